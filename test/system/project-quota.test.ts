// Project quotas (xfs and ext4) behind one interface: what is detected as able to take a
// limit, the xfs_quota command lines for each filesystem, and that a limit goes with its
// volume or writable layer. A kernel without quota support cannot set a limit, so the removal
// tests run the real code up to the external command: an xfs_quota first on PATH records each
// call and hands `project` (which only sets IDs and works without quotas) to the real tool, so
// the directories carry the project IDs a real run gives them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { mountLoopFs, isMounted, loopDevicesUnder, type LoopFs } from '../helpers/loop-fs.js';
import {
  applyCommands,
  projectIdFor,
  quotaSupported,
  releaseCommands,
  releaseProjectQuota,
} from '../../src/system/project-quota.js';
import { getFsXattr } from '../../src/native/fsxattr.js';
import { LocalDriver } from '../../src/volume/local-driver.js';
import { applyQuota } from '../../src/volume/quota.js';
import { openMetaDb } from '../../src/meta/db.js';
import { createSnapshotter } from '../../src/snapshot/index.js';
import { applyLayerSizeLimit, layerSizeLimit, releaseLayerSizeLimit } from '../../src/container/storage-opts.js';
import { silentLogger } from '../../src/util/log.js';

const loops: LoopFs[] = [];
let xfs: LoopFs;
let fake: string;
let calls: string;
const savedPath = process.env.PATH;

before(() => {
  xfs = mountLoopFs('xfs', 320);
  loops.push(xfs);
  fake = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-fake-xfs-quota-'));
  calls = path.join(fake, 'calls');
  const real = execFileSync('sh', ['-c', 'command -v xfs_quota'], { encoding: 'utf8' }).trim();
  fs.writeFileSync(
    path.join(fake, 'xfs_quota'),
    `#!/bin/sh
printf '%s\\037' "$@" >> '${calls}'
echo >> '${calls}'
for a in "$@"; do case "$a" in "project "*) exec '${real}' "$@" ;; esac; done
exit 0
`,
    { mode: 0o755 },
  );
  process.env.PATH = `${fake}:${savedPath}`;
});

after(() => {
  process.env.PATH = savedPath;
  fs.rmSync(fake, { recursive: true, force: true });
  for (const l of loops) {
    l.teardown();
    assert.equal(isMounted(l.mountPoint), false);
    assert.deepEqual(loopDevicesUnder(path.dirname(l.mountPoint)), []);
  }
});

/** The xfs_quota calls recorded since the last take, each as its argument list. */
function takeCalls(): string[][] {
  if (!fs.existsSync(calls)) return [];
  const lines = fs.readFileSync(calls, 'utf8').split('\n').filter(Boolean);
  fs.rmSync(calls);
  return lines.map((l) => l.split('\x1f').slice(0, -1));
}

test('the command lines: xfs_quota on xfs, and in its foreign-filesystem mode on ext4', () => {
  assert.deepEqual(applyCommands('xfs', '/mnt/x', '/mnt/x/v/_data', 1234567, 10485760), [
    ['-x', '-c', 'project -s -p /mnt/x/v/_data 1234567', '/mnt/x'],
    ['-x', '-c', 'limit -p bhard=10485760 1234567', '/mnt/x'],
  ]);
  assert.deepEqual(applyCommands('ext4', '/mnt/e', '/mnt/e/v/_data', 1234567, 10485760), [
    ['-x', '-f', '-c', 'project -s -p /mnt/e/v/_data 1234567', '/mnt/e'],
    ['-x', '-f', '-c', 'limit -p bhard=10485760 1234567', '/mnt/e'],
  ]);
  assert.deepEqual(releaseCommands('ext4', '/mnt/e', 7), [['-x', '-f', '-c', 'limit -p bhard=0 7', '/mnt/e']]);
  assert.deepEqual(releaseCommands('xfs', '/mnt/x', 7), [['-x', '-c', 'limit -p bhard=0 7', '/mnt/x']]);
});

test('detection: xfs and ext4 without project quotas enforced, and btrfs, are refused', () => {
  const ext4 = mountLoopFs('ext4', 64);
  loops.push(ext4);
  const btrfs = mountLoopFs('btrfs', 128);
  loops.push(btrfs);
  assert.equal(quotaSupported(xfs.mountPoint), false);
  assert.equal(quotaSupported(ext4.mountPoint), false);
  assert.equal(quotaSupported(btrfs.mountPoint), false, 'btrfs has qgroups, not project quotas');
  assert.throws(
    () => layerSizeLimit({ size: '10m' }, 'overlay2', ext4.mountPoint),
    /--storage-opt is supported only for overlay over xfs with 'pquota' mount option/,
  );
});

test('ext4 with the quota and project features, mounted prjquota: detected exactly when the kernel mounts it', (t) => {
  let ext4: LoopFs;
  try {
    ext4 = mountLoopFs('ext4', 64, ['-O', 'quota,project']);
  } catch (err) {
    // Without CONFIG_QUOTA the kernel refuses an ext4 with the quota feature outright.
    const said = spawnSync('dmesg', { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => /EXT4-fs.*quota/i.test(l))
      .at(-1);
    t.diagnostic(`the kernel refuses it: ${said?.trim() ?? (err as Error).message.split('\n')[0]}`);
    assert.match(String((err as Error).message), /mount/);
    return;
  }
  loops.push(ext4);
  execFileSync('umount', [ext4.mountPoint]);
  execFileSync('mount', ['-o', 'loop,prjquota', path.join(path.dirname(ext4.mountPoint), 'fs.img'), ext4.mountPoint]);
  assert.equal(quotaSupported(ext4.mountPoint), true);
});

test('removing a volume with a size limit sets its project limit back to 0', async () => {
  const root = path.join(xfs.mountPoint, 'volumes');
  const tmp = path.join(xfs.mountPoint, 'tmp');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(tmp, { recursive: true });
  const driver = new LocalDriver({ root, tmp, log: silentLogger });
  await driver.create('limited', {});
  const data = driver.dataPath('limited');
  takeCalls();
  await applyQuota(data, 10 << 20);
  const id = projectIdFor(data);
  assert.deepEqual(takeCalls(), applyCommands('xfs', xfs.mountPoint, data, id, 10 << 20));
  assert.equal(getFsXattr(data).projectId, id, 'the real xfs_quota gave _data the project');

  // A rename keeps the directory's project: the limit lifted is the one set, not the new path's.
  driver.rename('limited', 'renamed');
  await driver.remove('renamed', {});
  assert.deepEqual(takeCalls(), releaseCommands('xfs', xfs.mountPoint, id));
  assert.equal(fs.existsSync(path.join(root, 'renamed')), false);
  assert.deepEqual(fs.readdirSync(tmp), []);

  await driver.create('plain', {});
  await driver.remove('plain', {});
  assert.deepEqual(takeCalls(), [], 'a volume without a limit lifts nothing');
});

test("removing a writable layer's size limit on overlay2 lifts its project's limit", async () => {
  const dataRoot = path.join(xfs.mountPoint, 'data-root');
  fs.mkdirSync(dataRoot, { recursive: true });
  const db = openMetaDb(path.join(dataRoot, 'strata.db'));
  try {
    const sn = await createSnapshotter('overlay2', {
      root: path.join(dataRoot, 'snapshots', 'overlay2'),
      db,
      log: silentLogger,
    });
    await sn.prepare('container-1');
    const layerDir = path.dirname((await sn.graphDriverData('container-1')).Data!.UpperDir!);
    takeCalls();
    await applyLayerSizeLimit(sn, 'container-1', 20 << 20);
    const id = projectIdFor(layerDir);
    assert.deepEqual(takeCalls(), applyCommands('xfs', xfs.mountPoint, layerDir, id, 20 << 20));
    await releaseLayerSizeLimit(sn, 'container-1');
    assert.deepEqual(takeCalls(), releaseCommands('xfs', xfs.mountPoint, id));
    await sn.remove('container-1');
  } finally {
    db.close();
  }
});

test('a project inherited from the parent directory is not lifted by a child', async () => {
  const parent = path.join(xfs.mountPoint, 'inherits');
  fs.mkdirSync(parent);
  execFileSync('xfs_quota', ['-x', '-c', `project -s -p ${parent} 4242`, xfs.mountPoint]);
  const child = path.join(parent, 'child');
  fs.mkdirSync(child);
  assert.equal(getFsXattr(child).projectId, 4242, 'the child inherited the project');
  takeCalls();
  assert.equal(await releaseProjectQuota(child), 0);
  assert.deepEqual(takeCalls(), []);
  assert.equal(await releaseProjectQuota(parent), 4242);
  assert.deepEqual(takeCalls(), releaseCommands('xfs', xfs.mountPoint, 4242));
});
