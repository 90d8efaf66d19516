// A volume clone between local volumes on btrfs is a snapshot of the source's _data subvolume:
// the clone has the source's content and is a subvolume of its own (writes on one side never
// show on the other); off btrfs nothing is changed, for the caller's copy.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mountLoopFs, isMounted, loopDevicesUnder, type LoopFs } from '../helpers/loop-fs.js';
import { LocalDriver } from '../../src/volume/local-driver.js';
import { snapshotDataDir } from '../../src/volume/quota.js';
import { AT_FDCWD, statx } from '../../src/native/syscalls.js';
import { BTRFS_FIRST_FREE_OBJECTID } from '../../src/native/btrfs.js';
import { silentLogger } from '../../src/util/log.js';
import { ProjectIds } from '../../src/system/project-ids.js';
import { openMetaDb } from '../../src/meta/db.js';

const loops: LoopFs[] = [];
const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  for (const l of loops) {
    l.teardown();
    assert.equal(isMounted(l.mountPoint), false);
    assert.deepEqual(loopDevicesUnder(path.dirname(l.mountPoint)), []);
  }
});

function driverOn(base: string): LocalDriver {
  for (const d of ['volumes', 'tmp']) fs.mkdirSync(path.join(base, d), { recursive: true });
  return new LocalDriver({
    root: path.join(base, 'volumes'),
    tmp: path.join(base, 'tmp'),
    log: silentLogger,
    projectIds: new ProjectIds(openMetaDb(':memory:')),
  });
}

function fill(dir: string): void {
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'a'), 'alpha');
  fs.writeFileSync(path.join(dir, 'big'), Buffer.alloc(3 << 20, 7));
  fs.symlinkSync('sub/a', path.join(dir, 'link'));
  fs.chmodSync(dir, 0o750);
}

test('on btrfs the clone is a snapshot: same content, its own subvolume', async () => {
  const btrfs = mountLoopFs('btrfs', 256);
  loops.push(btrfs);
  const driver = driverOn(btrfs.mountPoint);
  await driver.create('src', {});
  await driver.create('dst', {});
  const src = driver.dataPath('src');
  const dst = driver.dataPath('dst');
  fill(src);
  assert.equal(snapshotDataDir(src, dst), true);
  assert.equal(statx(AT_FDCWD, dst).ino, BigInt(BTRFS_FIRST_FREE_OBJECTID), 'the clone is a subvolume');
  assert.equal(fs.readFileSync(path.join(dst, 'sub', 'a'), 'utf8'), 'alpha');
  assert.equal(fs.statSync(path.join(dst, 'big')).size, 3 << 20);
  assert.equal(fs.readlinkSync(path.join(dst, 'link')), 'sub/a');
  assert.equal(fs.statSync(dst).mode & 0o777, 0o750, "the root keeps the source's mode");
  assert.deepEqual(fs.readdirSync(path.dirname(dst)).sort(), ['_data'], 'no staged snapshot left');
  fs.writeFileSync(path.join(dst, 'sub', 'a'), 'changed');
  assert.equal(fs.readFileSync(path.join(src, 'sub', 'a'), 'utf8'), 'alpha', 'the source is untouched');

  // A target that already holds something is not replaced.
  assert.equal(snapshotDataDir(src, dst), false);
  assert.equal(fs.readFileSync(path.join(dst, 'sub', 'a'), 'utf8'), 'changed');
  await driver.remove('dst', {});
  await driver.remove('src', {});
  assert.deepEqual(fs.readdirSync(path.join(btrfs.mountPoint, 'volumes')), []);
});

test('off btrfs nothing is done and the caller copies', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-clone-'));
  dirs.push(base);
  const driver = driverOn(base);
  await driver.create('src', {});
  await driver.create('dst', {});
  fill(driver.dataPath('src'));
  assert.equal(snapshotDataDir(driver.dataPath('src'), driver.dataPath('dst')), false);
  assert.deepEqual(fs.readdirSync(driver.dataPath('dst')), []);
});
