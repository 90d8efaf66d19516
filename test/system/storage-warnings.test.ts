// docker info's Warnings when the data-root's filesystem runs short of inodes or of bytes
// (under 5% free), on a small loop-mounted ext4 made with few inodes and then filled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { mountLoopFs, isMounted, loopDevicesUnder, type LoopFs } from '../helpers/loop-fs.js';

let ext4: LoopFs;
let d: TestDaemon | undefined;
let dataRoot: string;
before(async () => {
  // 32 MB with 1 kB blocks and ~1000 inodes: a few files away from running out of either.
  ext4 = mountLoopFs('ext4', 32, ['-b', '1024', '-N', '1000', '-m', '0']);
  dataRoot = path.join(ext4.mountPoint, 'root');
  d = await startDaemon(['--data-root', dataRoot, '--storage-driver', 'vfs']);
});
after(async () => {
  await d?.stop();
  ext4.teardown();
  assert.equal(isMounted(ext4.mountPoint), false);
  assert.deepEqual(loopDevicesUnder(path.dirname(ext4.mountPoint)), []);
});

async function info(): Promise<{ Warnings: string[] | null; DockerRootDir: string; Driver: string }> {
  const r = await d!.request('GET', '/v1.41/info');
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body);
}

/** Creates empty files until the filesystem has no inode left to give. */
function useUpInodes(dir: string, keepFree: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const target = fs.statfsSync(dir).ffree - keepFree;
  for (let i = 0; i < target; i++) {
    try {
      fs.writeFileSync(path.join(dir, `f${i}`), '');
    } catch {
      break;
    }
  }
}

test('no warning while the data-root has room', async () => {
  const i = await info();
  assert.equal(i.DockerRootDir, dataRoot);
  assert.deepEqual(
    (i.Warnings ?? []).filter((w) => /free on/.test(w)),
    [],
  );
});

test('few free inodes: a warning, and the docker CLI prints it', async () => {
  useUpInodes(path.join(ext4.mountPoint, 'inodes'), 5);
  const s = fs.statfsSync(dataRoot);
  assert.ok(s.ffree / s.files < 0.05, 'the filesystem is really out of inodes');
  const i = await info();
  assert.ok(
    i.Warnings?.includes(`WARNING: less than 5% of inodes are free on ${dataRoot}`),
    JSON.stringify(i.Warnings),
  );
  assert.ok(!i.Warnings?.some((w) => /disk space/.test(w)), 'bytes are still plentiful');
  const cli = d!.docker(['info']);
  assert.match(cli.stderr + cli.stdout, /WARNING: less than 5% of inodes are free/);
});

test('few free bytes: a second warning', async () => {
  const fill = path.join(ext4.mountPoint, 'fill');
  spawnSync('dd', ['if=/dev/zero', `of=${fill}`, 'bs=64k'], { stdio: 'ignore' });
  const s = fs.statfsSync(dataRoot);
  assert.ok(s.bavail / s.blocks < 0.05, 'the filesystem is really full');
  const i = await info();
  assert.ok(
    i.Warnings?.includes(`WARNING: less than 5% of disk space is free on ${dataRoot}`),
    JSON.stringify(i.Warnings),
  );
  fs.rmSync(fill);
  fs.rmSync(path.join(ext4.mountPoint, 'inodes'), { recursive: true });
  const after = await info();
  assert.deepEqual(
    (after.Warnings ?? []).filter((w) => /free on/.test(w)),
    [],
    'warnings go once there is room again',
  );
});
