// fd-based path resolution inside a root (mount/in-root.ts), fd-held bind mounts
// (mount/fd-mount.ts) and volume-subpath staging (mount/staging.ts): symlinks stay inside the
// root, a racing symlink swap never gets anything made or mounted outside it, and every mount
// made is gone after its release.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDirectoryFd, mkdirAllInRoot, openInRoot, openTrustedDirectory } from '../../src/mount/in-root.js';
import { bindOnto, detachMount } from '../../src/mount/fd-mount.js';
import { openVolumeSubpath, releaseStaging, stageVolumeSubpath } from '../../src/mount/staging.js';
import { detachMountsBeneath } from '../../src/mount/scratch.js';
import { Conflict, InvalidParameter, NotFound } from '../../src/errors.js';
import { buildRenameExchange } from '../helpers/rename-exchange.js';

function scratch(t: { after(fn: () => void): void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-inroot-'));
  t.after(() => {
    for (const m of mountsUnder(dir).reverse()) spawnSyncUmount(m);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const root = path.join(dir, 'root');
  const victim = path.join(dir, 'victim');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.mkdirSync(victim);
  fs.writeFileSync(path.join(victim, 'sentinel'), 'host\n');
  return { dir, root, victim };
}

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort();
}

/** Test cleanup only: the code under test must already have unmounted everything. */
function spawnSyncUmount(m: string): void {
  spawnSync('umount', ['-l', m]);
}

const realOf = (fd: number) => fs.readlinkSync(`/proc/self/fd/${fd}`);

function withRoot<T>(root: string, fn: (rootFd: number) => T): T {
  const fd = openTrustedDirectory(root);
  try {
    return fn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

test('openInRoot follows absolute, relative and dot-dot links inside the root only', (t) => {
  const { root, victim } = scratch(t);
  fs.symlinkSync('/', path.join(root, 'abs'));
  fs.symlinkSync('../../../../..', path.join(root, 'up'));
  fs.symlinkSync(victim, path.join(root, 'host'));
  fs.symlinkSync('etc', path.join(root, 'rel'));
  withRoot(root, (rootFd) => {
    for (const p of ['/abs/etc', '/up/etc', '/../../etc', 'rel', '/rel/../etc/.']) {
      const fd = openInRoot(rootFd, p);
      try {
        assert.equal(realOf(fd), path.join(root, 'etc'), p);
      } finally {
        fs.closeSync(fd);
      }
    }
    // The link to the host's victim names a path inside the root, which does not exist.
    assert.throws(() => openInRoot(rootFd, '/host/sentinel'), { code: 'ENOENT' });
    // ...and creating through it creates that path inside the root, not beside it.
    mkdirAllInRoot(rootFd, '/host/made');
    assert.ok(fs.statSync(path.join(root, victim, 'made')).isDirectory());
    const fd = openInRoot(rootFd, '/host/file', { create: 'file' });
    try {
      assert.equal(isDirectoryFd(fd), false);
      assert.equal(realOf(fd), path.join(root, victim, 'file'));
    } finally {
      fs.closeSync(fd);
    }
  });
  assert.deepEqual(fs.readdirSync(victim), ['sentinel']);
});

test('openInRoot refuses a file in the middle of a path and link loops, with 4xx kinds', (t) => {
  const { root } = scratch(t);
  fs.writeFileSync(path.join(root, 'etc/passwd'), '');
  fs.symlinkSync('loop2', path.join(root, 'loop1'));
  fs.symlinkSync('loop1', path.join(root, 'loop2'));
  withRoot(root, (rootFd) => {
    assert.throws(
      () => mkdirAllInRoot(rootFd, '/etc/passwd/x'),
      (e: unknown) => e instanceof InvalidParameter && (e as { code?: string }).code === 'ENOTDIR',
    );
    assert.throws(() => mkdirAllInRoot(rootFd, '/etc/passwd'), InvalidParameter);
    assert.throws(() => openInRoot(rootFd, '/loop1/x', { mkdirMode: 0o755 }), /too many levels of symbolic links/);
  });
});

test('a symlink swap racing mkdirAllInRoot never creates anything outside the root', async (t) => {
  const { dir, root, victim } = scratch(t);
  const swapper = buildRenameExchange(dir);
  if (!swapper) return t.skip('no gcc with a static libc');
  fs.mkdirSync(path.join(root, 'a'));
  fs.symlinkSync(victim, path.join(root, 'alink'));
  const child = spawn(swapper, [path.join(root, 'a'), path.join(root, 'alink')], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 50));
  let made = 0;
  let conflicts = 0;
  withRoot(root, (rootFd) => {
    for (let i = 0; i < 3000; i++) {
      try {
        mkdirAllInRoot(rootFd, `/a/d${i}`);
        made++;
      } catch (err) {
        if (!(err instanceof Conflict)) throw err;
        conflicts++;
      }
    }
  });
  child.kill('SIGKILL');
  t.diagnostic(`${made} made, ${conflicts} refused as changing`);
  assert.deepEqual(fs.readdirSync(victim), ['sentinel'], 'nothing made in the host directory the link points to');
  assert.ok(made + conflicts === 3000 && made > 0);
});

test('bindOnto mounts on the opened target, read-only when asked, and detachMount removes exactly it', (t) => {
  const { dir, root } = scratch(t);
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'f'), 'data');
  withRoot(root, (rootFd) => {
    const srcFd = openTrustedDirectory(src);
    const target = openInRoot(rootFd, '/mnt/vol', { mkdirMode: 0o755, create: 'directory' });
    let mfd: number;
    try {
      mfd = bindOnto(srcFd, target, { recursive: true, readOnly: true });
    } finally {
      fs.closeSync(target);
      fs.closeSync(srcFd);
    }
    assert.deepEqual(mountsUnder(root), [path.join(root, 'mnt/vol')]);
    assert.equal(fs.readFileSync(path.join(root, 'mnt/vol/f'), 'utf8'), 'data');
    assert.throws(() => fs.writeFileSync(path.join(root, 'mnt/vol/g'), 'x'), { code: 'EROFS' });
    detachMount(mfd);
    assert.deepEqual(mountsUnder(root), []);
    assert.deepEqual(fs.readdirSync(path.join(root, 'mnt/vol')), []);
  });
});

test("openVolumeSubpath: links inside the volume are followed, escapes and missing paths refused in Docker's words", (t) => {
  const { dir } = scratch(t);
  const vol = path.join(dir, 'vol');
  fs.mkdirSync(path.join(vol, 'real/deep'), { recursive: true });
  fs.symlinkSync('real', path.join(vol, 'inside'));
  fs.symlinkSync('/', path.join(vol, 'root'));
  fs.symlinkSync('../..', path.join(vol, 'up'));
  const fd = openVolumeSubpath(vol, 'inside/deep');
  try {
    assert.equal(realOf(fd), path.join(vol, 'real/deep'));
  } finally {
    fs.closeSync(fd);
  }
  assert.throws(
    () => openVolumeSubpath(vol, 'root'),
    (e: unknown) =>
      e instanceof InvalidParameter && /path concatenation escapes the base directory/.test((e as Error).message),
  );
  assert.throws(() => openVolumeSubpath(vol, 'up'), InvalidParameter);
  assert.throws(
    () => openVolumeSubpath(vol, 'nope'),
    (e: unknown) =>
      e instanceof NotFound && /^cannot access path .*nope: no such file or directory$/.test((e as Error).message),
  );
});

test('a staged subpath is a private mount of that directory; release and the startup sweep leave nothing mounted', async (t) => {
  const { dir } = scratch(t);
  const vol = path.join(dir, 'vol');
  fs.mkdirSync(path.join(vol, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(vol, 'sub/in-sub'), 'x');
  fs.writeFileSync(path.join(vol, 'file'), 'f');
  const dataRoot = path.join(dir, 'data');
  const staging = path.join(dataRoot, 'tmp/mounts/c1');
  const d = stageVolumeSubpath(staging, '0', vol, 'sub');
  const f = stageVolumeSubpath(staging, '1', vol, 'file');
  assert.deepEqual(fs.readdirSync(d), ['in-sub']);
  assert.equal(fs.readFileSync(f, 'utf8'), 'f');
  assert.equal(fs.statSync(path.dirname(staging)).mode & 0o777, 0o700);
  assert.equal(mountsUnder(dataRoot).length, 2);
  await releaseStaging(staging);
  assert.deepEqual(mountsUnder(dataRoot), []);
  assert.equal(fs.existsSync(staging), false);
  assert.deepEqual(fs.readdirSync(path.join(vol, 'sub')), ['in-sub'], 'the volume keeps its files');
  // A crash leaves staging mounted: the startup sweep of tmp/ unmounts it, after which tmp/ can be deleted safely.
  stageVolumeSubpath(path.join(dataRoot, 'tmp/mounts/c2'), '0', vol, 'sub');
  await detachMountsBeneath(path.join(dataRoot, 'tmp'));
  assert.deepEqual(mountsUnder(dataRoot), []);
  fs.rmSync(path.join(dataRoot, 'tmp'), { recursive: true, force: true });
  assert.deepEqual(fs.readdirSync(path.join(vol, 'sub')), ['in-sub']);
});
