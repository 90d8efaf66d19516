import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chooseDriver } from '../../src/snapshot/index.js';
import { mountAll, mountsUnder, unmount } from '../../src/mount/kernel.js';
import { silentLogger, type Logger } from '../../src/util/log.js';
import { mountLoopFs } from '../helpers/loop-fs.js';

test('chooseDriver picks overlay2 on this ext4 machine and leaves no probe behind', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-choose-'));
  try {
    assert.equal(await chooseDriver(tmp, silentLogger), 'overlay2');
    assert.deepEqual(await readdir(path.join(tmp, 'snapshots')), []);
    assert.deepEqual(await mountsUnder(tmp), []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

/** An overlayfs mount under a temp dir: a filesystem the kernel refuses as overlayfs's upper layer. */
async function onNestedOverlay(fn: (dataRoot: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-choose-'));
  const root = path.join(tmp, 'ovl');
  try {
    for (const d of ['lower', 'upper', 'work', 'ovl']) await mkdir(path.join(tmp, d));
    const opts = [
      'lowerdir=' + path.join(tmp, 'lower'),
      'upperdir=' + path.join(tmp, 'upper'),
      'workdir=' + path.join(tmp, 'work'),
    ];
    await mountAll([{ type: 'overlay', source: 'overlay', options: opts }], root);
    try {
      await fn(path.join(root, 'data'));
    } finally {
      await unmount(root);
    }
    assert.deepEqual(await mountsUnder(tmp), []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

test('chooseDriver falls back to fuse-overlayfs where overlayfs cannot be the upper filesystem, saying why', async () => {
  await onNestedOverlay(async (dataRoot) => {
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (m) => void warnings.push(m) };
    assert.equal(await chooseDriver(dataRoot, log), 'fuse-overlayfs');
    assert.match(warnings[0] ?? '', /^overlay2: /);
    assert.match(warnings[0] ?? '', /overlayfs filesystem/);
    assert.deepEqual(await readdir(path.join(dataRoot, 'snapshots')), [], 'both probes cleaned up');
  });
});

test('chooseDriver falls back to vfs there when fuse-overlayfs is not installed', async () => {
  // A PATH with the mount tools and without fuse-overlayfs.
  const bin = await mkdtemp(path.join(os.tmpdir(), 'strata-path-'));
  const saved = process.env.PATH;
  try {
    for (const tool of ['mount', 'umount']) await symlink(`/usr/bin/${tool}`, path.join(bin, tool));
    process.env.PATH = bin;
    await onNestedOverlay(async (dataRoot) => {
      const warnings: string[] = [];
      const log: Logger = { ...silentLogger, warn: (m) => void warnings.push(m) };
      assert.equal(await chooseDriver(dataRoot, log), 'vfs');
      assert.match(warnings[0] ?? '', /^overlay2: /);
      assert.equal(warnings[1], 'fuse-overlayfs: exec: "fuse-overlayfs": executable file not found in $PATH');
    });
  } finally {
    process.env.PATH = saved;
    await rm(bin, { recursive: true, force: true });
  }
});

test('the overlay probe mounts through the syscalls, starting no mount(8) or umount(8)', async () => {
  // mount and umount on this PATH log each call before running the real tools.
  const bin = await mkdtemp(path.join(os.tmpdir(), 'strata-path-'));
  const calls = path.join(bin, 'calls');
  const saved = process.env.PATH;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-choose-'));
  try {
    for (const tool of ['mount', 'umount']) {
      await writeFile(path.join(bin, tool), `#!/bin/sh\necho ${tool} "$@" >> ${calls}\nexec /usr/bin/${tool} "$@"\n`, {
        mode: 0o755,
      });
    }
    process.env.PATH = `${bin}:${saved}`;
    assert.equal(await chooseDriver(tmp, silentLogger), 'overlay2');
    assert.equal(existsSync(calls) ? await readFile(calls, 'utf8') : '', '');
    assert.deepEqual(await readdir(path.join(tmp, 'snapshots')), [], 'probe removed');
    assert.deepEqual(await mountsUnder(tmp), [], 'probe unmounted');
  } finally {
    process.env.PATH = saved;
    await rm(bin, { recursive: true, force: true });
    await rm(tmp, { recursive: true, force: true });
  }
});

test("the overlay probe leaves the data-root's filesystem unsynced: its unmount commits no journal transaction", async () => {
  // A journalled ext4 of its own, committing only when asked to (commit=600), so that every
  // transaction counted is one a sync forced.
  const loop = mountLoopFs('ext4', 64);
  try {
    execFileSync('mount', ['-o', 'remount,commit=600', loop.mountPoint]);
    const source = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[4] === loop.mountPoint)!;
    const device = path.basename(source[source.indexOf('-', 6) + 2]!);
    const info = `/proc/fs/jbd2/${device}-8/info`;
    const commits = () => Number(/^(\d+) transactions/.exec(readFileSync(info, 'utf8'))![1]);
    const dataRoot = path.join(loop.mountPoint, 'root');
    await mkdir(dataRoot);
    execFileSync('sync', ['-f', loop.mountPoint]);
    const before = commits();
    assert.equal(await chooseDriver(dataRoot, silentLogger), 'overlay2');
    assert.equal(commits(), before, 'the probe forced a journal commit');
    assert.deepEqual(await mountsUnder(dataRoot), [], 'probe unmounted');
  } finally {
    loop.teardown();
  }
});
