// A volume-subpath's staging mount (mount/staging.ts) outlives a daemon killed with SIGKILL;
// the next daemon must unmount it before it empties tmp/, or the recursive delete would go
// through the mount and delete the volume's files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exited, mountsUnder, spawnDaemonIn as daemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

test('staging mounts left by a killed daemon are unmounted at startup, and the volume keeps its files', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-staging-'));
  const docker = (...args: string[]) =>
    spawnSync('docker', args, {
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: `unix://${path.join(dir, 's.sock')}` },
    });
  let proc = await daemon(dir);
  t.after(async () => {
    proc.kill('SIGKILL');
    await exited(proc);
    spawnSync('runc', ['--root', path.join(dir, 'exec', 'runc'), 'delete', '--force', 'live']);
    for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  fs.writeFileSync(path.join(dir, 'bb.tar'), await busyboxArchive('bb:test'));
  assert.equal(docker('load', '-i', path.join(dir, 'bb.tar')).status, 0);
  assert.equal(docker('volume', 'create', 'sv').status, 0);
  const data = JSON.parse(docker('volume', 'inspect', 'sv').stdout)[0].Mountpoint as string;
  fs.mkdirSync(path.join(data, 'sub'));
  fs.writeFileSync(path.join(data, 'sub', 'f'), 'keep me\n');
  const run = docker(
    'run',
    '-d',
    '--name',
    'live',
    '--mount',
    'type=volume,src=sv,dst=/m,volume-subpath=sub',
    'bb:test',
    'sleep',
    '1000',
  );
  assert.equal(run.status, 0, run.stderr);
  const staging = path.join(dir, 'root', 'tmp', 'mounts');
  assert.equal(mountsUnder(staging).length, 1, 'the running container has its subpath staged');

  proc.kill('SIGKILL');
  await exited(proc);
  assert.equal(mountsUnder(staging).length, 1, 'a killed daemon leaves its staging mount');
  proc = await daemon(dir);
  assert.deepEqual(mountsUnder(path.join(dir, 'root', 'tmp')), [], 'startup unmounted it');
  assert.equal(
    fs.readFileSync(path.join(data, 'sub', 'f'), 'utf8'),
    'keep me\n',
    'emptying tmp/ did not go through the mount',
  );

  const again = docker('start', 'live');
  assert.equal(again.status, 0, again.stderr);
  assert.equal(mountsUnder(staging).length, 1, 'staged again for the new run');
  assert.equal(docker('rm', '-f', 'live').status, 0);
  assert.deepEqual(mountsUnder(path.join(dir, 'root', 'tmp')), []);
  assert.equal(docker('volume', 'rm', 'sv').status, 0);
});
