// The btrfs driver on a loop-mounted btrfs made for each test: the conformance suite, Docker's
// driver status and GraphDriver data, layers as subvolumes and snapshots, qgroup size limits,
// and the driver chosen on its own when the data-root is on btrfs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { snapshotterSuite, layer } from './suite.js';
import { makeFixture } from './fixture.js';
import { mountLoopFs } from '../helpers/loop-fs.js';
import { chooseDriver, createSnapshotter } from '../../src/snapshot/index.js';
import { openMetaDb } from '../../src/meta/db.js';
import { silentLogger } from '../../src/util/log.js';
import { InvalidParameter, Unavailable } from '../../src/errors.js';

snapshotterSuite('btrfs');

/** Level-0 qgroups of the filesystem at `mnt` as "0/<id>" → max referenced ("none" or bytes). */
function qgroups(mnt: string): Map<string, string> {
  const out = execFileSync('btrfs', ['qgroup', 'show', '-r', '--raw', mnt], { encoding: 'utf8' });
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (/^0\/\d+$/.test(f[0] ?? '')) m.set(f[0]!, f[3]!);
  }
  return m;
}

const subvolumeIdOf = (dir: string) =>
  /Subvolume ID:\s+(\d+)/.exec(execFileSync('btrfs', ['subvolume', 'show', dir], { encoding: 'utf8' }))![1]!;

test('btrfs: status and GraphDriver data are what dockerd 20.10 shows', async () => {
  const fx = await makeFixture('btrfs');
  try {
    assert.equal(fx.sn.driver, 'btrfs');
    const status = await fx.sn.status();
    assert.match(status[0]![1], /^Btrfs v\d/);
    assert.deepEqual(status, [
      ['Build Version', status[0]![1]],
      ['Library Version', '102'],
    ]);
    await fx.sn.prepare('a');
    assert.deepEqual(await fx.sn.graphDriverData('a', '/x/merged'), { Name: 'btrfs', Data: null });
  } finally {
    await fx.close();
  }
});

test('btrfs: layers are subvolumes, a child is a snapshot sharing its parent, removal deletes the subvolume', async () => {
  const fx = await makeFixture('btrfs');
  try {
    await layer(fx, 'base', undefined, async (d) => writeFile(path.join(d, 'big'), Buffer.alloc(64 << 20, 7)));
    await fx.sn.prepare('c', 'base');
    const upper = (await fx.sn.applyTarget('c')).dir;
    // Inode 256 is the root directory of a subvolume; a plain directory never has it.
    assert.equal((await stat(upper)).ino, 256);
    assert.equal((await stat(path.join(upper, 'big'))).size, 64 << 20);
    const show = execFileSync('btrfs', ['subvolume', 'show', upper], { encoding: 'utf8' });
    const base = (await fx.sn.diffSource('base')).upper;
    assert.match(
      show,
      new RegExp(`Parent UUID:\\s+${uuidOf(base)}`),
      'the container layer is a snapshot of its image layer',
    );
    assert.equal((await fx.sn.usage('c')).size, 0, 'a fresh writable layer changed nothing');
    await assert.rejects(fx.sn.remove('base'), /with child/);
    await fx.sn.remove('c');
    const listed = execFileSync('btrfs', ['subvolume', 'list', fx.root], { encoding: 'utf8' });
    assert.equal(listed.trim().split('\n').length, 1, listed);
    assert.deepEqual(await readdir(fx.root), [path.basename(path.dirname(base))]);
  } finally {
    await fx.close();
  }
});

function uuidOf(dir: string): string {
  return /\n\s*UUID:\s+(\S+)/.exec(execFileSync('btrfs', ['subvolume', 'show', dir], { encoding: 'utf8' }))![1]!;
}

test('btrfs: a size limit is a qgroup on the writable layer; writing past it is EDQUOT; removal takes the qgroup', async () => {
  const fx = await makeFixture('btrfs');
  try {
    await layer(fx, 'base', undefined, async (d) => writeFile(path.join(d, 'f'), 'x'));
    await fx.sn.prepare('c', 'base');
    await fx.sn.limitSize('c', 20 << 20);
    const upper = (await fx.sn.applyTarget('c')).dir;
    const id = `0/${subvolumeIdOf(upper)}`;
    const mnt = path.dirname(path.dirname(path.dirname(fx.root))); // the fixture's loop mount
    assert.equal(qgroups(mnt).get(id), String(20 << 20));
    await fx.withMount(await fx.sn.mounts('c'), async (d) => {
      await writeFile(path.join(d, 'small'), Buffer.alloc(1 << 20));
      // Node has no name for EDQUOT: it is errno 122, "Disk quota exceeded".
      await assert.rejects(writeFile(path.join(d, 'big'), Buffer.alloc(40 << 20)), (err: NodeJS.ErrnoException) => {
        assert.equal(err.errno, -122, String(err));
        return true;
      });
    });
    await fx.sn.remove('c');
    // The kernel removes a deleted subvolume's qgroup once its cleaner has dropped it.
    execFileSync('btrfs', ['subvolume', 'sync', mnt]);
    assert.equal(qgroups(mnt).has(id), false, `qgroup ${id} outlived its snapshot`);
  } finally {
    await fx.close();
  }
});

test('btrfs: a size limit on a committed snapshot is refused; vfs keeps no size limits', async () => {
  const fx = await makeFixture('btrfs');
  const vfs = await makeFixture('vfs');
  try {
    await layer(fx, 'base', undefined, async (d) => writeFile(path.join(d, 'f'), 'x'));
    await assert.rejects(fx.sn.limitSize('base', 1 << 20), /not an active snapshot/);
    await vfs.sn.prepare('c');
    await assert.rejects(vfs.sn.limitSize('c', 1 << 20), Unavailable);
  } finally {
    await fx.close();
    await vfs.close();
  }
});

test('chooseDriver picks btrfs when the data-root is on btrfs', async () => {
  const loop = mountLoopFs('btrfs', 1024);
  try {
    await mkdir(path.join(loop.mountPoint, 'root'));
    assert.equal(await chooseDriver(path.join(loop.mountPoint, 'root'), silentLogger), 'btrfs');
  } finally {
    loop.teardown();
  }
});

test("btrfs off a btrfs filesystem is refused in dockerd's words, before anything is made", async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-not-btrfs-'));
  const db = openMetaDb(path.join(tmp, 'strata.db'));
  try {
    await assert.rejects(
      createSnapshotter('btrfs', { root: path.join(tmp, 'snapshots', 'btrfs'), db, log: silentLogger }),
      (err: Error) =>
        err instanceof InvalidParameter &&
        err.message === 'error initializing graphdriver: prerequisites for driver not satisfied (wrong filesystem?)',
    );
    assert.deepEqual(
      (await readdir(tmp)).filter((n) => !n.startsWith('strata.db')),
      [],
    );
  } finally {
    db.close();
    await rm(tmp, { recursive: true, force: true });
  }
});

test('btrfs: removing a writable layer in which the container made nested subvolumes, a read-only one and links out deletes them all and nothing outside', async () => {
  const fx = await makeFixture('btrfs');
  const outside = await mkdtemp(path.join(os.tmpdir(), 'strata-btrfs-outside-'));
  try {
    await writeFile(path.join(outside, 'keep'), 'host file');
    await layer(fx, 'base', undefined, async (d) => writeFile(path.join(d, 'f'), 'x'));
    await fx.sn.prepare('c', 'base');
    const upper = (await fx.sn.applyTarget('c')).dir;
    // What a container can do to its own rootfs: subvolumes need no privilege on btrfs, a
    // read-only snapshot of one it owns neither, and its links may name any host path.
    execFileSync('btrfs', ['subvolume', 'create', path.join(upper, 'nested')]);
    execFileSync('btrfs', ['subvolume', 'create', path.join(upper, 'nested', 'deeper')]);
    await writeFile(path.join(upper, 'nested', 'deeper', 'data'), 'x');
    await symlink(outside, path.join(upper, 'nested', 'out'));
    await symlink(outside, path.join(upper, 'nested', 'deeper', 'out'));
    execFileSync('btrfs', ['subvolume', 'snapshot', '-r', path.join(upper, 'nested'), path.join(upper, 'ro')]);
    await fx.sn.remove('c');
    assert.equal(await readFile(path.join(outside, 'keep'), 'utf8'), 'host file');
    const listed = execFileSync('btrfs', ['subvolume', 'list', fx.root], { encoding: 'utf8' });
    assert.equal(listed.trim().split('\n').length, 1, listed);
    const base = (await fx.sn.diffSource('base')).upper;
    assert.deepEqual(await readdir(fx.root), [path.basename(path.dirname(base))]);
  } finally {
    await rm(outside, { recursive: true, force: true });
    await fx.close();
  }
});
