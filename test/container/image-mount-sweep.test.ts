// An image mount staged for a running container outlives a daemon killed with SIGKILL; the next
// daemon unmounts it before it empties tmp/ (a delete through the read-write form's mount
// would reach the container's writable layer and, through whiteouts, hide image files), and
// the container starts again with its image mount and what it wrote there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { exited, mountsUnder, spawnDaemonIn as daemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';
import { dockerArchive } from '../image/fixture-archive.js';

test('image mounts left by a killed daemon are unmounted at startup; the container keeps its writes', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-imgsweep-'));
  const socket = path.join(dir, 's.sock');
  const docker = (...args: string[]) =>
    spawnSync('docker', args, { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${socket}` } });
  const request = (body: object) =>
    spawnSync(
      'curl',
      [
        '-s',
        '--unix-socket',
        socket,
        '-H',
        'Content-Type: application/json',
        '-d',
        JSON.stringify(body),
        'http://x/v1.48/containers/create?name=live',
      ],
      { encoding: 'utf8' },
    );
  let proc = await daemon(dir);
  t.after(async () => {
    proc.kill('SIGKILL');
    await exited(proc);
    spawnSync('runc', ['--root', path.join(dir, 'exec', 'runc'), 'delete', '--force', 'live']);
    for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  fs.writeFileSync(path.join(dir, 'bb.tar'), await busyboxArchive('bb:test'));
  fs.writeFileSync(path.join(dir, 'layered.tar'), (await dockerArchive({ tag: 'layered:test' })).tar);
  for (const f of ['bb.tar', 'layered.tar']) assert.equal(docker('load', '-i', path.join(dir, f)).status, 0);
  const created = request({
    Image: 'bb:test',
    Cmd: ['sh', '-c', 'cat /img/etc/mine 2>/dev/null; echo mine > /img/etc/mine; rm -f /img/b.txt; sleep 1000'],
    HostConfig: {
      Mounts: [
        { Type: 'image', Source: 'layered:test', Target: '/img', ReadOnly: false },
        { Type: 'image', Source: 'layered:test', Target: '/ro', ImageOptions: { Subpath: 'etc' } },
      ],
    },
  });
  assert.match(created.stdout, /"Id"/, created.stdout + created.stderr);
  assert.equal(docker('start', 'live').status, 0);
  const staging = path.join(dir, 'root', 'tmp', 'mounts');
  assert.equal(mountsUnder(staging).length, 3, 'two image roots and a subpath staged');

  proc.kill('SIGKILL');
  await exited(proc);
  spawnSync('runc', ['--root', path.join(dir, 'exec', 'runc'), 'kill', 'live', 'KILL']);
  assert.equal(mountsUnder(staging).length, 3, 'a killed daemon leaves its staging mounts');
  proc = await daemon(dir);
  assert.deepEqual(mountsUnder(path.join(dir, 'root', 'tmp')), [], 'startup unmounted them');

  assert.equal(docker('start', 'live').status, 0);
  const logs = docker('logs', 'live').stdout;
  assert.match(logs, /^mine\n/, 'the write of the first run is still in the container’s layer');
  const image = docker('run', '--rm', '--mount', 'type=image,source=layered:test,target=/i', 'bb:test', 'ls', '/i');
  assert.match(image.stdout, /b\.txt/, 'the image itself kept its files');
  assert.equal(docker('rm', '-f', 'live').status, 0);
  assert.deepEqual(mountsUnder(path.join(dir, 'root', 'tmp')), []);
});
