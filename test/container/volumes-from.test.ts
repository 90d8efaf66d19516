// --volumes-from through the docker CLI: the other container's volumes and binds, read-only on
// request, counted as uses of the volume.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  const r = spawnSync('docker', ['load'], {
    input: await busyboxArchive('vf:latest'),
    env: { ...process.env, DOCKER_HOST: d.host },
  });
  assert.equal(r.status, 0, String(r.stderr));
});
after(async () => {
  await d.stop();
});

test('--volumes-from shares volumes and binds, :ro makes them read-only, and the volume counts it as a user', () => {
  const bind = path.join(d.dir, 'bindsrc');
  fs.mkdirSync(bind);
  const first = d.docker([
    'run',
    '--name',
    'src',
    '-v',
    'shared:/data',
    '-v',
    `${bind}:/b`,
    'vf',
    'sh',
    '-c',
    'echo hi > /data/f; echo b > /b/g',
  ]);
  assert.equal(first.status, 0, first.stderr);

  const ro = d.docker([
    'run',
    '--name',
    'reader',
    '--volumes-from',
    'src:ro',
    'vf',
    'sh',
    '-c',
    'cat /data/f /b/g; touch /data/x',
  ]);
  assert.equal(ro.stdout, 'hi\nb\n');
  assert.notEqual(ro.status, 0);
  assert.match(ro.stderr, /Read-only file system/);

  const rw = d.docker([
    'run',
    '--rm',
    '--volumes-from',
    'src',
    'vf',
    'sh',
    '-c',
    'echo more >> /data/f && cat /data/f',
  ]);
  assert.equal(rw.status, 0, rw.stderr);
  assert.equal(rw.stdout, 'hi\nmore\n');

  const mounts = JSON.parse(d.docker(['inspect', '-f', '{{json .Mounts}}', 'reader']).stdout) as {
    Destination: string;
    RW: boolean;
    Name?: string;
  }[];
  assert.deepEqual(mounts.map((m) => [m.Destination, m.RW]).sort(), [
    ['/b', false],
    ['/data', false],
  ]);

  const rm = d.docker(['volume', 'rm', 'shared']);
  assert.notEqual(rm.status, 0);
  const users = rm.stderr.match(/volume is in use - \[(.*)\]/)?.[1]?.split(' ') ?? [];
  assert.equal(users.length, 2, rm.stderr);

  const bad = d.docker(['create', '--volumes-from', 'src:rx', 'vf', 'true']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /invalid mode for volumes-from: rx/);
  d.docker(['rm', '-f', 'src', 'reader']);
  assert.equal(d.docker(['volume', 'rm', 'shared']).status, 0);
});
