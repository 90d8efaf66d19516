// Classic-builder answers compared with dockerd 20.10: a failing RUN's errorDetail (code and
// message), --add-host entries in the /etc/hosts of RUN steps and bad entries refused in
// dockerd's words, and --cache-from. Expected streams were checked against dockerd 20.10.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './fixture.js';
import { makeTar } from '../image/fixture-archive.js';

let d: TestDaemon;
process.env.DOCKER_BUILDKIT = '0';

before(async () => {
  d = await startDaemon();
  const r = await postTar('/v1.41/images/load?quiet=1', await busyboxArchive('bb:latest'));
  assert.equal(r.status, 200, r.body);
});

after(async () => {
  await d?.stop();
});

function postTar(url: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: d.socket, method: 'POST', path: url, headers: { 'Content-Type': 'application/x-tar' } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The build stream as JSON messages. */
async function buildStream(dockerfile: string, query: string): Promise<Record<string, any>[]> {
  const ctx = await makeTar([{ name: 'Dockerfile', data: dockerfile }]);
  const r = await postTar(`/v1.41/build?${query}`, ctx);
  assert.equal(r.status, 200, r.body);
  return r.body
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);
}

const streamText = (msgs: Record<string, any>[]) => msgs.map((m) => m.stream ?? '').join('');

test("a failing RUN ends the stream with dockerd's errorDetail: the exit code and the command", async () => {
  const msgs = await buildStream('FROM bb\nRUN echo hi && exit 3\n', 'rm=1');
  const message = "The command '/bin/sh -c echo hi && exit 3' returned a non-zero code: 3";
  assert.deepEqual(msgs.at(-1), { errorDetail: { code: 3, message }, error: message });
  // The exec form's words are joined by spaces (dockerd: RUN ["false"] → The command 'false' …).
  const exec = await buildStream('FROM bb\nRUN ["sh", "-c", "exit 1"]\n', 'rm=1');
  const m2 = "The command 'sh -c exit 1' returned a non-zero code: 1";
  assert.deepEqual(exec.at(-1), { errorDetail: { code: 1, message: m2 }, error: m2 });
  assert.equal(
    d.docker(['ps', '-aq']).stdout.trim().split('\n').length,
    2,
    "the failed steps' containers stay, as dockerd leaves them",
  );
  d.docker(['rm', '-f', ...d.docker(['ps', '-aq']).stdout.trim().split('\n')]);
});

test('--add-host entries are in /etc/hosts of RUN steps, after the defaults and in their order', async () => {
  const hosts = ['a:1.2.3.4', 'b:5.6.7.8', 'h6:fe80::1'].map((h) => `extrahosts=${encodeURIComponent(h)}`).join('&');
  const msgs = await buildStream('FROM bb\nRUN cat /etc/hosts\n', `nocache=1&${hosts}`);
  const out = streamText(msgs);
  assert.match(
    out,
    /ff02::2\tip6-allrouters\n1\.2\.3\.4\ta\n5\.6\.7\.8\tb\nfe80::1\th6\n/,
    'as dockerd 20.10 writes them',
  );
  assert.ok(
    msgs.some((m) => m.aux?.ID),
    'the build succeeded',
  );
});

test("a bad --add-host fails the first RUN in dockerd's words", async () => {
  const cases: [string, string][] = [
    ['bad', 'bad format for add-host: "bad"'],
    [':1.2.3.4', 'bad format for add-host: ":1.2.3.4"'],
    ['x:10.1.2.3,y:10.9.9.9', 'invalid IP address in add-host: "10.1.2.3,y:10.9.9.9"'],
  ];
  for (const [h, message] of cases) {
    const msgs = await buildStream('FROM bb\nRUN true\n', `nocache=1&extrahosts=${encodeURIComponent(h)}`);
    assert.deepEqual(msgs.at(-1), { errorDetail: { message }, error: message }, h);
  }
  assert.equal(d.docker(['ps', '-aq']).stdout, '', 'no build container is left');
});

test("--cache-from reuses a loaded image's steps, which have no local parents, as dockerd's classic builder does", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-cachefrom-'));
  try {
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM bb\nRUN echo a > /a\nENV x=1\nRUN echo b > /b\n');
    fs.writeFileSync(path.join(dir, 'Dockerfile2'), 'FROM bb\nRUN echo a > /a\nENV x=1\nRUN echo c > /c\n');
    const build = (...args: string[]) => {
      const r = d.docker(['build', ...args, dir]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    build('-q', '-t', 'cfa');
    const a = d.docker(['inspect', '-f', '{{.Id}}', 'cfa']).stdout.trim();
    assert.equal(d.docker(['save', '-o', path.join(dir, 'cfa.tar'), 'cfa']).status, 0);
    assert.equal(d.docker(['rmi', 'cfa']).status, 0, 'the image and its intermediate parents go');
    assert.equal(d.docker(['load', '-i', path.join(dir, 'cfa.tar')]).status, 0);

    // dockerd 20.10: no step cached without --cache-from, every step with it, and the same image.
    const without = build('--no-cache=false', '-t', 'cfnone');
    assert.equal(without.match(/Using cache/g)?.length ?? 0, 0);
    d.docker(['rmi', 'cfnone']);
    const withCache = build('--cache-from', 'cfa', '-t', 'cfb');
    assert.equal(withCache.match(/---> Using cache/g)?.length, 3, withCache);
    assert.match(withCache, new RegExp(`Successfully built ${a.slice(7, 19)}`));
    assert.equal(d.docker(['inspect', '-f', '{{.Id}}', 'cfb']).stdout.trim(), a);

    // A changed last step: the earlier ones come from the source, the last one runs.
    const changed = build('--cache-from', 'cfa', '-f', path.join(dir, 'Dockerfile2'), '-t', 'cfc');
    assert.equal(changed.match(/---> Using cache/g)?.length, 2, changed);
    assert.match(changed, /Step 4\/4 : RUN echo c > \/c\n ---> Running in /);
    assert.equal(d.docker(['run', '--rm', 'cfc', 'cat', '/a', '/c']).stdout, 'a\nc\n', 'built on the restored layers');

    // A source that does not exist is skipped, as dockerd does.
    assert.match(build('--cache-from', 'nonexistent:tag', '-q'), /^sha256:/);
  } finally {
    d.docker(['rmi', '-f', 'cfa', 'cfb', 'cfc']);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
