// docker export of a running container reads the container's own rootfs mount: no second overlay
// over its writable layer (the kernel logs "overlayfs: lowerdir is in-use as upperdir/workdir"
// for one), and the tar is what dockerd 20.10 exports for the same container.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:export'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

/** Overlay mounts anywhere under the daemon's data-root, as the host sees them. */
const overlaysUnderRoot = () =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4]?.startsWith(d.dataRoot + '/') && / - overlay /.test(l))
    .map((l) => l.split(' ')[4]!);

/** The kernel's complaints about a layer in use by two overlays, or undefined if dmesg cannot be read. */
function overlayInUseWarnings(): number | undefined {
  const r = spawnSync('dmesg', [], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) return undefined;
  return r.stdout.split('\n').filter((l) => /overlayfs: (lowerdir|upperdir|workdir) is in-use/.test(l)).length;
}

const tarList = (tar: Buffer) => spawnSync('tar', ['-t'], { input: tar, encoding: 'utf8' }).stdout.split('\n');
const tarFile = (tar: Buffer, name: string) => spawnSync('tar', ['-xO', name], { input: tar, encoding: 'utf8' }).stdout;

test('export of a running container shares its rootfs mount and leaves volumes out', { timeout: 120_000 }, async () => {
  const run = d.docker([
    'run',
    '-d',
    '--network',
    'none',
    '--name',
    'busy',
    '-v',
    '/data',
    'bb:export',
    'sh',
    '-c',
    'echo hi > /tmp/f; echo v > /data/v; touch /ready; sleep 1000',
  ]);
  assert.equal(run.status, 0, run.stderr);
  try {
    for (let i = 0; d.docker(['exec', 'busy', 'ls', '/ready']).status !== 0; i++) {
      assert.ok(i < 600, 'the container wrote its files');
      await new Promise((r) => setTimeout(r, 50));
    }
    const warningsBefore = overlayInUseWarnings();
    const overlaysBefore = overlaysUnderRoot();
    assert.equal(overlaysBefore.length, 1, `the running container's rootfs: ${overlaysBefore.join(' ')}`);
    // The export holds whatever it mounted until the tar is read: look while it is paused.
    const chunks: Buffer[] = [];
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ socketPath: d.socket, path: '/v1.41/containers/busy/export' }, resolve).on('error', reject);
    });
    assert.equal(res.statusCode, 200);
    res.pause();
    assert.deepEqual(overlaysUnderRoot(), overlaysBefore);
    res.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((r) => res.on('end', r));
    res.resume();
    await ended;
    const tar = Buffer.concat(chunks);
    // dockerd 20.10 exports data/ (the mountpoint) without data/v, and tmp/f with "hi".
    const names = tarList(tar);
    assert.ok(names.includes('tmp/f') && names.includes('data/'), names.join(' '));
    assert.ok(!names.includes('data/v'));
    assert.equal(tarFile(tar, 'tmp/f'), 'hi\n');
    assert.deepEqual(overlaysUnderRoot(), overlaysBefore);
    if (warningsBefore !== undefined) assert.equal(overlayInUseWarnings(), warningsBefore);
    // Stopped, it exports the same files and leaves nothing mounted.
    assert.equal(d.docker(['stop', '-t', '0', 'busy']).status, 0);
    const stopped = spawnSync('docker', ['export', 'busy'], {
      env: { ...process.env, DOCKER_HOST: d.host },
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(stopped.status, 0, String(stopped.stderr));
    assert.deepEqual(tarList(stopped.stdout).sort(), names.sort());
    // The export's own mount of the stopped rootfs goes once its last byte is out (the test's timeout bounds this).
    while (overlaysUnderRoot().length) await new Promise((r) => setTimeout(r, 50));
  } finally {
    d.docker(['rm', '-f', '-v', 'busy']);
  }
});
