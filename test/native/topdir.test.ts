import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FS_TOPDIR_FL, markTopDir } from '../../src/native/topdir.js';
import { Overlay2Snapshotter } from '../../src/snapshot/overlay2.js';
import { openMetaDb } from '../../src/meta/db.js';
import { silentLogger } from '../../src/util/log.js';
import { flagsOf } from '../helpers/inode-flags.js';

const EXT_MAGIC = 0xef53;

const onExt = statfsSync(tmpdir()).type >>> 0 === EXT_MAGIC;

test(
  'markTopDir sets FS_TOPDIR_FL on an ext directory, once, keeping its other flags',
  { skip: !onExt && 'needs ext4 under the temp dir' },
  () => {
    const d = mkdtempSync(join(tmpdir(), 'strata-topdir-'));
    try {
      const before = flagsOf(d);
      assert.equal(before & FS_TOPDIR_FL, 0);
      assert.equal(markTopDir(d), true);
      assert.equal(flagsOf(d), before | FS_TOPDIR_FL);
      assert.equal(markTopDir(d), true);
      assert.equal(flagsOf(d), before | FS_TOPDIR_FL);
    } finally {
      rmSync(d, { recursive: true });
    }
  },
);

test('markTopDir leaves a directory on another filesystem alone', () => {
  const d = mkdtempSync(join('/dev/shm', 'strata-topdir-'));
  try {
    assert.equal(markTopDir(d), false);
  } finally {
    rmSync(d, { recursive: true });
  }
});

test(
  'a snapshotter spreads its snapshot directories: its root carries the flag',
  { skip: !onExt && 'needs ext4 under the temp dir' },
  async () => {
    const d = mkdtempSync(join(tmpdir(), 'strata-topdir-'));
    try {
      const root = join(d, 'overlay2');
      mkdirSync(root);
      assert.equal(flagsOf(root) & FS_TOPDIR_FL, 0);
      const db = openMetaDb(join(d, 'strata.db'));
      try {
        await new Overlay2Snapshotter(root, db, silentLogger).init();
        assert.equal(flagsOf(root) & FS_TOPDIR_FL, FS_TOPDIR_FL);
      } finally {
        db.close();
      }
    } finally {
      rmSync(d, { recursive: true });
    }
  },
);
