// docker cp emits Docker's container events (extract-to-dir in, archive-path out, nothing for
// a stat), and a stopped container's cached SizeRw follows a docker cp into it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
let scratch: string;
before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-cp-'));
  d = await startDaemon();
  const r = spawnSync('docker', ['load'], {
    input: await busyboxArchive('cptest:latest'),
    env: { ...process.env, DOCKER_HOST: d.host },
  });
  assert.equal(r.status, 0, String(r.stderr));
});
after(async () => {
  d.docker(['rm', '-f', 'cpc']);
  await d.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function sizeRw(name: string): Promise<number> {
  const r = await d.request('GET', '/v1.41/system/df');
  assert.equal(r.status, 200, r.body);
  const c = (JSON.parse(r.body).Containers as { Names: string[]; SizeRw: number }[]).find((x) =>
    x.Names.includes(`/${name}`),
  );
  assert.ok(c, `${name} in df`);
  return c.SizeRw;
}

/** The container events between `since` and now, as "Action" strings. */
function eventsSince(since: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const until = Math.floor(Date.now() / 1000) + 1;
    http
      .get(
        {
          socketPath: d.socket,
          path: `/v1.41/events?since=${since}&until=${until}&filters=${encodeURIComponent('{"container":["cpc"]}')}`,
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c;
          });
          res.on('end', () =>
            resolve(
              body
                .split('\n')
                .filter(Boolean)
                .map((l) => JSON.parse(l).Action as string),
            ),
          );
        },
      )
      .on('error', reject);
  });
}

test("docker cp into a stopped container: extract-to-dir, and df's SizeRw grows by the file", async () => {
  assert.equal(d.docker(['create', '--name', 'cpc', 'cptest', 'true']).status, 0);
  const since = Math.floor(Date.now() / 1000);
  const before = await sizeRw('cpc');
  assert.equal(await sizeRw('cpc'), before, 'a second read is the cached figure');
  const file = path.join(scratch, 'payload');
  fs.writeFileSync(file, Buffer.alloc(123_456, 7));
  const cp = d.docker(['cp', file, 'cpc:/payload']);
  assert.equal(cp.status, 0, cp.stderr);
  assert.equal(await sizeRw('cpc'), before + 123_456);
  const out = d.docker(['cp', 'cpc:/payload', path.join(scratch, 'back')]);
  assert.equal(out.status, 0, out.stderr);
  assert.equal(fs.statSync(path.join(scratch, 'back')).size, 123_456);
  await new Promise((r) => setTimeout(r, 1100));
  const actions = (await eventsSince(since)).filter((a) => a !== 'create');
  assert.deepEqual(
    actions,
    ['extract-to-dir', 'archive-path'],
    'what dockerd 20.10 emits for the two copies (the stat of cp in has none)',
  );
});
