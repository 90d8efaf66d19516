// A container's state survives the daemon: stopped containers keep their exit codes and
// writable layers; running ones are stopped at SIGTERM; after a SIGKILL of the daemon the
// next daemon records them as exited, deletes runc's leftovers and unmounts their rootfs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exited, mountsUnder, spawnDaemonIn as daemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

test('containers and their exit codes survive daemon restarts, clean or not', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-restart-'));
  const docker = (...args: string[]) =>
    spawnSync('docker', args, {
      encoding: 'utf8',
      env: { ...process.env, DOCKER_HOST: `unix://${path.join(dir, 's.sock')}` },
    });
  let proc = await daemon(dir);
  t.after(async () => {
    proc.kill('SIGKILL');
    await exited(proc);
    for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
    spawnSync('runc', ['--root', path.join(dir, 'exec', 'runc'), 'delete', '--force', 'x']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  fs.writeFileSync(path.join(dir, 'bb.tar'), await busyboxArchive('bb:test'));
  assert.equal(docker('load', '-i', path.join(dir, 'bb.tar')).status, 0);
  assert.equal(docker('run', '--name', 'done', 'bb:test', 'sh', '-c', 'echo kept > /file; exit 7').status, 7);
  assert.equal(docker('run', '-d', '--stop-timeout', '1', '--name', 'live', 'bb:test', 'sleep', '1000').status, 0);

  proc.kill('SIGTERM');
  await exited(proc);
  assert.deepEqual(mountsUnder(dir), [], 'a clean shutdown stops containers and unmounts them');
  proc = await daemon(dir);
  assert.equal(docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'done').stdout.trim(), 'exited 7');
  assert.equal(docker('inspect', '-f', '{{.State.Running}}', 'live').stdout.trim(), 'false');
  assert.equal(docker('start', '-a', 'done').stdout, '', 'start -a of a command with no output');
  const cp = docker('cp', 'done:/file', path.join(dir, 'file-out'));
  if (cp.status === 0) assert.equal(fs.readFileSync(path.join(dir, 'file-out'), 'utf8'), 'kept\n');

  assert.equal(docker('start', 'live').status, 0);
  proc.kill('SIGKILL');
  await exited(proc);
  proc = await daemon(dir);
  assert.equal(docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'live').stdout.trim(), 'exited 255');
  assert.deepEqual(mountsUnder(path.join(dir, 'root', 'containers')), [], 'leftover rootfs mounts are undone');
  const runc = spawnSync('runc', ['--root', path.join(dir, 'exec', 'runc'), 'list', '-q'], { encoding: 'utf8' });
  assert.equal(runc.stdout.trim(), '', 'runc leftovers are deleted');
  assert.equal(docker('start', 'live').status, 0, 'a recovered container starts again');
  assert.equal(docker('rm', '-f', 'live', 'done').status, 0);
});
