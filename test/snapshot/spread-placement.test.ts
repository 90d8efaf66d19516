// Where new snapshot directories land, on small loop-mounted filesystems: on ext4 each starts in
// a block group of its own instead of its parent's; elsewhere nothing is marked and the store
// works the same.
import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { FS_TOPDIR_FL } from '../../src/native/topdir.js';
import { openMetaDb } from '../../src/meta/db.js';
import { createSnapshotter } from '../../src/snapshot/index.js';
import { silentLogger } from '../../src/util/log.js';
import { flagsOf } from '../helpers/inode-flags.js';
import { mountLoopFs } from '../helpers/loop-fs.js';

/** Makes a data-root on the mounted filesystem, prepares `n` snapshots and returns their directories' inodes. */
async function prepareOn(mnt: string, n: number): Promise<{ root: string; rootIno: number; inos: number[] }> {
  const root = path.join(mnt, 'data-root', 'snapshots', 'overlay2');
  const db = openMetaDb(path.join(mnt, 'strata.db'));
  try {
    const sn = await createSnapshotter('overlay2', { root, db, log: silentLogger });
    for (let i = 0; i < n; i++) await sn.prepare(`layer-${i}`);
    const dirs = (await readdir(root)).filter((d) => /^\d+$/.test(d));
    assert.equal(dirs.length, n);
    const inos = await Promise.all(dirs.map(async (d) => (await stat(path.join(root, d))).ino));
    return { root, rootIno: (await stat(root)).ino, inos };
  } finally {
    db.close();
  }
}

test('on ext4 without a journal, each new snapshot directory starts in a block group of its own', async () => {
  // 32 groups of 2048 inodes, no flex groups: the allocator places each directory in one group.
  const fs = mountLoopFs('ext4', 1024, ['-O', '^has_journal,^flex_bg', '-g', '8192', '-N', '65536']);
  try {
    assert.equal(statfsSync(fs.mountPoint).files, 65536);
    const groupOf = (ino: number) => Math.floor((ino - 1) / 2048);
    const { root, rootIno, inos } = await prepareOn(fs.mountPoint, 4);
    assert.equal(flagsOf(root) & FS_TOPDIR_FL, FS_TOPDIR_FL);
    const groups = inos.map(groupOf);
    // Without the flag all four would sit in the root's group, among whatever was removed there.
    assert.ok(!groups.includes(groupOf(rootIno)), `snapshot groups ${groups} include the root's ${groupOf(rootIno)}`);
    assert.equal(new Set(groups).size, groups.length, `snapshot groups ${groups} repeat`);
  } finally {
    fs.teardown();
  }
});

test("a snapshot number used again in another data-root does not pick its namesake's block group again", async () => {
  // ext4 starts the search at a hash of the name: directory "1" made, removed and made again in a
  // new data-root would land in the same group each time, among the inodes just freed there.
  const fs = mountLoopFs('ext4', 1024, ['-O', '^has_journal,^flex_bg', '-g', '8192', '-N', '65536']);
  try {
    const roots = [0, 1, 2, 3].map((i) => path.join(fs.mountPoint, `data-root-${i}`, 'snapshots', 'overlay2'));
    for (const r of roots) await mkdir(r, { recursive: true });
    const groups: number[] = [];
    for (const [i, root] of roots.entries()) {
      const db = openMetaDb(path.join(fs.mountPoint, `strata-${i}.db`));
      try {
        const sn = await createSnapshotter('overlay2', { root, db, log: silentLogger });
        await sn.prepare('x');
        assert.deepEqual(await readdir(root), ['1'], 'numbering starts at 1 in each data-root');
        groups.push(Math.floor(((await stat(path.join(root, '1'))).ino - 1) / 2048));
        await sn.remove('x');
      } finally {
        db.close();
      }
    }
    assert.ok(new Set(groups).size > 1, `directory "1" landed in group ${groups[0]} each time`);
  } finally {
    fs.teardown();
  }
});

test('on journalled ext4 the flag is set too and snapshots work as before', async () => {
  const fs = mountLoopFs('ext4', 256);
  try {
    const { root, inos } = await prepareOn(fs.mountPoint, 2);
    assert.equal(flagsOf(root) & FS_TOPDIR_FL, FS_TOPDIR_FL);
    assert.equal(inos.length, 2);
  } finally {
    fs.teardown();
  }
});

test('on xfs nothing is marked and snapshots work as before', async () => {
  const fs = mountLoopFs('xfs', 320);
  try {
    const { root, inos } = await prepareOn(fs.mountPoint, 2);
    assert.equal(flagsOf(root) & FS_TOPDIR_FL, 0);
    assert.equal(inos.length, 2);
  } finally {
    fs.teardown();
  }
});
