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
  applyProjectQuota,
  quotaSupported,
  releaseCommands,
  releaseProjectQuota,
} from '../../src/system/project-quota.js';
import { ProjectIds, projectIdCandidate } from '../../src/system/project-ids.js';
import { sweepProjectQuotas } from '../../src/system/project-quota-sweep.js';
import { sweepScratch } from '../../src/system/recovery.js';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getFsXattr } from '../../src/native/fsxattr.js';
import { LocalDriver } from '../../src/volume/local-driver.js';
import { applyQuota } from '../../src/volume/quota.js';
import { openMetaDb } from '../../src/meta/db.js';
import { createSnapshotter } from '../../src/snapshot/index.js';
import { applyLayerSizeLimit, layerSizeLimit, releaseLayerSizeLimit } from '../../src/container/storage-opts.js';
import { silentLogger } from '../../src/util/log.js';

const loops: LoopFs[] = [];
let xfs: LoopFs;
let db: ReturnType<typeof openMetaDb>;
let ids: ProjectIds;
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
  db = openMetaDb(path.join(fake, 'strata.db'));
  ids = new ProjectIds(db);
});

after(() => {
  db.close();
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
  // The directory is xfs_quota's fd 3: no path (which may hold blanks) goes into a command.
  assert.deepEqual(applyCommands('xfs', '/mnt/x', 1234567, 10485760), [
    ['-x', '-c', 'project -s -p /proc/self/fd/3/. 1234567', '/mnt/x'],
    ['-x', '-c', 'limit -p bhard=10485760 1234567', '/mnt/x'],
  ]);
  assert.deepEqual(applyCommands('ext4', '/mnt/e', 1234567, 10485760), [
    ['-x', '-f', '-c', 'project -s -p /proc/self/fd/3/. 1234567', '/mnt/e'],
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
  const driver = new LocalDriver({ root, tmp, log: silentLogger, projectIds: ids });
  await driver.create('limited', {});
  const data = driver.dataPath('limited');
  takeCalls();
  await applyQuota(data, 10 << 20, ids);
  const id = getFsXattr(data).projectId;
  assert.deepEqual(takeCalls(), applyCommands('xfs', xfs.mountPoint, id, 10 << 20));
  assert.deepEqual(
    ids.all().map((r) => r.id),
    [id],
    'the real xfs_quota gave _data the project the table holds',
  );

  // A rename keeps the directory's project: the limit lifted is the one set, not the new path's.
  driver.rename('limited', 'renamed');
  await driver.remove('renamed', {});
  assert.deepEqual(takeCalls(), releaseCommands('xfs', xfs.mountPoint, id));
  assert.deepEqual(ids.all(), [], 'the ID is given back');
  assert.equal(fs.existsSync(path.join(root, 'renamed')), false);
  assert.deepEqual(fs.readdirSync(tmp), []);

  await driver.create('plain', {});
  await driver.remove('plain', {});
  assert.deepEqual(takeCalls(), [], 'a volume without a limit lifts nothing');
});

test("removing a writable layer's size limit on overlay2 lifts its project's limit", async () => {
  const dataRoot = path.join(xfs.mountPoint, 'data-root');
  fs.mkdirSync(dataRoot, { recursive: true });
  const sdb = openMetaDb(path.join(dataRoot, 'strata.db'));
  try {
    const sn = await createSnapshotter('overlay2', {
      root: path.join(dataRoot, 'snapshots', 'overlay2'),
      db: sdb,
      log: silentLogger,
    });
    await sn.prepare('container-1');
    const layerDir = path.dirname((await sn.graphDriverData('container-1')).Data!.UpperDir!);
    takeCalls();
    await applyLayerSizeLimit(sn, 'container-1', 20 << 20, ids);
    const id = getFsXattr(layerDir).projectId;
    assert.notEqual(id, 0);
    assert.deepEqual(takeCalls(), applyCommands('xfs', xfs.mountPoint, id, 20 << 20));
    await releaseLayerSizeLimit(sn, 'container-1', ids);
    assert.deepEqual(takeCalls(), releaseCommands('xfs', xfs.mountPoint, id));
    assert.deepEqual(ids.all(), []);
    await sn.remove('container-1');
  } finally {
    sdb.close();
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
  assert.equal(await releaseProjectQuota(child, ids), 0);
  assert.deepEqual(takeCalls(), []);
  assert.equal(await releaseProjectQuota(parent, ids), 4242);
  assert.deepEqual(takeCalls(), releaseCommands('xfs', xfs.mountPoint, 4242));
});

/** Two directory paths whose first-choice project IDs (the path's hash) are the same. */
function collidingPaths(base: string): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const p = path.join(base, `v${i}`, '_data');
    const id = projectIdCandidate(p);
    const other = seen.get(id);
    if (other) return [other, p];
    seen.set(id, p);
  }
}

test('two directories whose paths hash alike get different project IDs', async () => {
  const base = path.join(xfs.mountPoint, 'collide');
  const [a, b] = collidingPaths(base);
  assert.equal(projectIdCandidate(a), projectIdCandidate(b), 'the paths collide');
  for (const d of [a, b]) fs.mkdirSync(d, { recursive: true });
  const idA = await applyProjectQuota(a, 1 << 20, ids);
  const idB = await applyProjectQuota(b, 2 << 20, ids);
  assert.notEqual(idA, idB);
  assert.equal(getFsXattr(a).projectId, idA);
  assert.equal(getFsXattr(b).projectId, idB);
  assert.deepEqual(
    takeCalls().map((c) => c[2]),
    [
      `project -s -p /proc/self/fd/3/. ${idA}`,
      `limit -p bhard=${1 << 20} ${idA}`,
      `project -s -p /proc/self/fd/3/. ${idB}`,
      `limit -p bhard=${2 << 20} ${idB}`,
    ],
  );
  assert.equal(await releaseProjectQuota(a, ids), idA);
  assert.equal(await releaseProjectQuota(b, ids), idB);
  assert.deepEqual(ids.all(), []);
  takeCalls();
  fs.rmSync(base, { recursive: true });
});

test('a directory whose path has blanks (and a quote) takes its project; the directory its first word names does not', async () => {
  const base = path.join(xfs.mountPoint, 'blank');
  const dir = path.join(base, 'my vol "x"', '_data');
  const decoy = path.join(base, 'my');
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(decoy);
  const id = await applyProjectQuota(dir, 1 << 20, ids);
  assert.equal(getFsXattr(dir).projectId, id);
  assert.equal(getFsXattr(decoy).projectId, 0);
  fs.mkdirSync(path.join(dir, 'sub'));
  assert.equal(getFsXattr(path.join(dir, 'sub')).projectId, id, 'what is made below inherits it');
  assert.equal(await releaseProjectQuota(dir, ids), id);
  takeCalls();
  fs.rmSync(base, { recursive: true });
});

test('a directory that does not take the project is an error, and its ID goes back', async () => {
  // A symlink in the directory's place is refused before xfs_quota runs.
  const base = path.join(xfs.mountPoint, 'refused');
  fs.mkdirSync(path.join(base, 'real'), { recursive: true });
  fs.symlinkSync('real', path.join(base, 'link'));
  await assert.rejects(applyProjectQuota(path.join(base, 'link'), 1 << 20, ids), /ELOOP|ENOTDIR|symbolic/i);
  assert.equal(getFsXattr(path.join(base, 'real')).projectId, 0);
  assert.deepEqual(ids.all(), []);
  takeCalls();
  fs.rmSync(base, { recursive: true });
});

const here = path.dirname(fileURLToPath(import.meta.url));

test('a volume removal SIGKILLed between its move to tmp/ and the lifting of its limit: startup lifts it and gives the ID back', async () => {
  const dataRoot = path.join(xfs.mountPoint, 'crash-root');
  const execRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-crash-exec-'));
  for (const d of ['volumes', 'tmp']) fs.mkdirSync(path.join(dataRoot, d), { recursive: true });
  const child = path.join(fake, 'remove-volume.mjs');
  const mod = (p: string) => pathToFileURL(path.join(here, '../../src', p)).href;
  fs.writeFileSync(
    child,
    `import path from 'node:path';
import { openMetaDb } from '${mod('meta/db.js')}';
import { ProjectIds } from '${mod('system/project-ids.js')}';
import { LocalDriver } from '${mod('volume/local-driver.js')}';
import { applyQuota } from '${mod('volume/quota.js')}';
import { silentLogger } from '${mod('util/log.js')}';
const root = process.argv[2];
const db = openMetaDb(path.join(root, 'strata.db'));
const driver = new LocalDriver({ root: path.join(root, 'volumes'), tmp: path.join(root, 'tmp'), log: silentLogger, projectIds: new ProjectIds(db) });
await driver.create('doomed', {});
await applyQuota(driver.dataPath('doomed'), 10 << 20, new ProjectIds(db));
process.env.STRATA_CRASH_AT = 'volume-rm-moved';
await driver.remove('doomed', {});
console.log('not killed');
`,
  );
  takeCalls();
  const r = spawnSync(process.execPath, [child, dataRoot], { encoding: 'utf8' });
  assert.equal(r.signal, 'SIGKILL', r.stderr + r.stdout);
  const rdb = openMetaDb(path.join(dataRoot, 'strata.db'));
  try {
    const rids = new ProjectIds(rdb);
    const [row] = rids.all();
    assert.ok(row, 'the ID is still taken');
    assert.deepEqual(
      takeCalls(),
      applyCommands('xfs', xfs.mountPoint, row.id, 10 << 20),
      'the limit was set, never lifted',
    );
    const graves = fs.readdirSync(path.join(dataRoot, 'tmp'));
    assert.equal(graves.length, 1, 'the volume was moved to tmp/');
    assert.equal(getFsXattr(path.join(dataRoot, 'tmp', graves[0]!, '_data')).projectId, row.id);

    // Startup: tmp/ is emptied (as it always was, which alone left the limit), then the sweep.
    await sweepScratch(dataRoot, execRoot, silentLogger);
    assert.deepEqual(fs.readdirSync(path.join(dataRoot, 'tmp')), []);
    assert.deepEqual(takeCalls(), [], 'emptying tmp/ lifts nothing');
    assert.deepEqual(await sweepProjectQuotas(dataRoot, rids, silentLogger), [row.id]);
    assert.deepEqual(takeCalls(), releaseCommands('xfs', xfs.mountPoint, row.id));
    assert.deepEqual(rids.all(), [], 'and the ID is free again');
    // A second start finds nothing to do; a live volume's limit is never lifted.
    const live = path.join(dataRoot, 'volumes', 'kept', '_data');
    fs.mkdirSync(live, { recursive: true });
    const keptId = await applyProjectQuota(live, 1 << 20, rids);
    takeCalls();
    assert.deepEqual(await sweepProjectQuotas(dataRoot, rids, silentLogger), []);
    assert.deepEqual(takeCalls(), []);
    assert.deepEqual(
      rids.all().map((x) => x.id),
      [keptId],
    );
    await releaseProjectQuota(live, rids);
    takeCalls();
  } finally {
    rdb.close();
    fs.rmSync(execRoot, { recursive: true, force: true });
    fs.rmSync(dataRoot, { recursive: true, force: true });
  }
});

test('an ID a directory carries from before IDs were kept is recorded at start and never given again', async () => {
  const dataRoot = path.join(xfs.mountPoint, 'adopt-root');
  const old = path.join(dataRoot, 'volumes', 'old', '_data');
  const next = path.join(dataRoot, 'volumes', 'next', '_data');
  fs.mkdirSync(old, { recursive: true });
  fs.mkdirSync(next, { recursive: true });
  const taken = projectIdCandidate(next);
  execFileSync('xfs_quota', ['-x', '-c', `project -s -p ${old} ${taken}`, xfs.mountPoint]);
  takeCalls();
  const adb = openMetaDb(path.join(fake, 'adopt.db'));
  try {
    const aids = new ProjectIds(adb);
    // This kernel cannot enforce limits on the loop xfs: the sweep is told they are.
    assert.deepEqual(await sweepProjectQuotas(dataRoot, aids, silentLogger, true), []);
    assert.deepEqual(
      aids.all().map((r) => [r.id, r.path]),
      [[taken, old]],
    );
    const id = await applyProjectQuota(next, 1 << 20, aids);
    assert.notEqual(id, taken, "the new directory does not share the old one's ID");
    assert.equal(getFsXattr(next).projectId, id);
    // Once the old directory is gone, its limit is lifted and the ID given back.
    fs.rmSync(path.join(dataRoot, 'volumes', 'old'), { recursive: true });
    takeCalls();
    assert.deepEqual(await sweepProjectQuotas(dataRoot, aids, silentLogger, true), [taken]);
    assert.deepEqual(takeCalls(), releaseCommands('xfs', xfs.mountPoint, taken));
    assert.deepEqual(
      aids.all().map((r) => r.id),
      [id],
    );
    await releaseProjectQuota(next, aids);
    takeCalls();
  } finally {
    adb.close();
    fs.rmSync(dataRoot, { recursive: true, force: true });
  }
});

test('limits enforced for real: a volume with a size limit refuses writes past it (needs kernel project quotas)', async (t) => {
  let pq: LoopFs;
  try {
    pq = mountLoopFs('xfs-pquota', 320);
  } catch (err) {
    const said = spawnSync('dmesg', { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => /XFS.*quota/i.test(l))
      .at(-1);
    t.skip(
      `this kernel cannot mount xfs with project quotas: ${said?.trim() ?? (err as Error).message.split('\n')[0]}`,
    );
    return;
  }
  loops.push(pq);
  process.env.PATH = savedPath;
  try {
    const root = path.join(pq.mountPoint, 'my volumes');
    fs.mkdirSync(path.join(root, 'v'), { recursive: true });
    const data = path.join(root, 'v', '_data');
    fs.mkdirSync(data);
    const id = await applyProjectQuota(data, 4 << 20, ids);
    assert.equal(getFsXattr(data).projectId, id);
    assert.throws(() => fs.writeFileSync(path.join(data, 'big'), Buffer.alloc(8 << 20, 1)), /EDQUOT|ENOSPC/);
    assert.equal(await releaseProjectQuota(data, ids), id);
    fs.writeFileSync(path.join(data, 'big'), Buffer.alloc(8 << 20, 1));
  } finally {
    process.env.PATH = `${fake}:${savedPath}`;
  }
});
