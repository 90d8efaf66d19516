import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Conflict, NotFound } from '../../src/errors.js';
import { LIGHT_KDF } from '../../src/backup/restic-key.js';
import { allocatedBytes, fillTree, getXattr, makeService, manifest, tempDir } from './fixture.js';

function repoBytes(repo: string): number {
  return Number(
    execFileSync('du', ['-sb', path.join(repo, 'data')])
      .toString()
      .split('\t')[0],
  );
}

test('backup, change, backup: both restore byte for byte; the second backup is incremental', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    const vol = await volumes.create({ name: 'data' });
    fillTree(vol.mountpoint, { absoluteLink: true });
    fs.chmodSync(vol.mountpoint, 0o770);
    const first = manifest(vol.mountpoint);
    const b1 = (await svc.backup(['data'], { repository: repo })).backups[0]!;
    // The repository key was re-sealed with the lighter key derivation.
    const keys = fs.readdirSync(path.join(repo, 'keys'));
    assert.equal(keys.length, 1);
    assert.equal(JSON.parse(fs.readFileSync(path.join(repo, 'keys', keys[0]!), 'utf8')).N, LIGHT_KDF.N);

    const unchanged = (await svc.backup(['data'], { repository: repo })).backups[0]!;
    assert.equal(unchanged.FilesNew + unchanged.FilesChanged, 0);
    assert.ok(unchanged.BytesAdded < b1.BytesAdded / 10, `unchanged backup added ${unchanged.BytesAdded} bytes`);

    fs.writeFileSync(path.join(vol.mountpoint, 'hello.txt'), 'changed\n');
    fs.rmSync(path.join(vol.mountpoint, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(vol.mountpoint, 'new.txt'), 'new file');
    const second = manifest(vol.mountpoint);
    const b2 = (await svc.backup(['data'], { repository: repo })).backups[0]!;
    assert.notEqual(b1.ID, b2.ID);

    const list = await svc.list({ repository: repo }, 'data');
    assert.deepEqual(
      list.map((b) => b.ID),
      [b1.ID, unchanged.ID, b2.ID],
    );
    assert.ok(list.every((b) => b.Volume === 'data'));

    const r1 = await svc.restore('data', b1.ShortID, { repository: repo, target: 'data-at-1' });
    assert.equal(r1.Backup.ID, b1.ID);
    const v1 = await volumes.get('data-at-1');
    assert.equal(manifest(v1.mountpoint), first);
    assert.equal(fs.statSync(v1.mountpoint).mode & 0o7777, 0o770, 'volume root mode');
    assert.equal(getXattr(path.join(v1.mountpoint, 'hello.txt'), 'user.origin'), 'strata');
    assert.equal(
      fs.statSync(path.join(v1.mountpoint, 'hard.txt')).ino,
      fs.statSync(path.join(v1.mountpoint, 'hello.txt')).ino,
    );
    assert.ok(allocatedBytes(path.join(v1.mountpoint, 'sparse.img')) < 1 << 20, 'sparse file came back dense');

    await svc.restore('data', 'latest', { repository: repo, target: 'data-at-2' });
    assert.equal(manifest((await volumes.get('data-at-2')).mountpoint), second);

    // Restoring over the original volume replaces its content.
    await svc.restore('data', b1.ID, { repository: repo });
    assert.equal(manifest(vol.mountpoint), first);

    await assert.rejects(svc.restore('data', 'deadbeef', { repository: repo, target: 'x' }), NotFound);
    await assert.rejects(svc.restore('nobody', 'latest', { repository: repo }), NotFound);
    assert.equal(volumes.vols.has('x'), false, 'a failed restore leaves no new volume behind');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('identical content in two volumes is stored once', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    const a = await volumes.create({ name: 'a' });
    const b = await volumes.create({ name: 'b' });
    const blob = crypto.randomBytes(4 << 20);
    fs.writeFileSync(path.join(a.mountpoint, 'blob'), blob);
    fs.writeFileSync(path.join(b.mountpoint, 'copy-of-blob'), blob);
    const { backups } = await svc.backup(['a', 'b'], { repository: repo });
    assert.ok(backups[0]!.BytesAdded > (4 << 20) - 1024, 'incompressible data is stored');
    assert.ok(backups[1]!.BytesAdded < 64 << 10, `second volume added ${backups[1]!.BytesAdded} bytes`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('retention removes only data no kept backup needs', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    const vol = await volumes.create({ name: 'v' });
    const other = await volumes.create({ name: 'other' });
    fs.writeFileSync(path.join(other.mountpoint, 'o'), crypto.randomBytes(1 << 20));
    await svc.backup(['other'], { repository: repo });
    fs.writeFileSync(path.join(vol.mountpoint, 'shared'), crypto.randomBytes(2 << 20));
    for (let i = 0; i < 3; i++) {
      fs.writeFileSync(path.join(vol.mountpoint, 'gen'), crypto.randomBytes(2 << 20));
      await svc.backup(['v'], { repository: repo });
    }
    const expected = manifest(vol.mountpoint);
    const sizeBefore = repoBytes(repo);
    const { removed } = await svc.backup(['v'], { repository: repo, keepLast: 1 });
    assert.equal(removed.length, 3);
    const left = await svc.list({ repository: repo });
    assert.deepEqual(left.map((b) => b.Volume).sort(), ['other', 'v'], "the other volume's backup is its own group");
    assert.ok(repoBytes(repo) < sizeBefore - (3 << 20), 'the two dropped generations were pruned');
    await svc.verify({ repository: repo });
    await svc.restore('v', 'latest', { repository: repo, target: 'v2' });
    assert.equal(manifest((await volumes.get('v2')).mountpoint), expected);
    await svc.restore('other', 'latest', { repository: repo, target: 'o2' });
    assert.equal(fs.statSync(path.join((await volumes.get('o2')).mountpoint, 'o')).size, 1 << 20);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a tampered pack is detected by verify and by restore, which leaves the volume untouched', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    const vol = await volumes.create({ name: 'v' });
    fs.writeFileSync(path.join(vol.mountpoint, 'f'), crypto.randomBytes(1 << 20));
    await svc.backup(['v'], { repository: repo });
    await svc.verify({ repository: repo });
    const packs = execFileSync('find', [path.join(repo, 'data'), '-type', 'f'])
      .toString()
      .trim()
      .split('\n');
    const biggest = packs.sort((x, y) => fs.statSync(y).size - fs.statSync(x).size)[0]!;
    fs.chmodSync(biggest, 0o600);
    const fd = fs.openSync(biggest, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0x00, 0xff]), 0, 3, 1000);
    fs.closeSync(fd);
    await assert.rejects(svc.verify({ repository: repo }));
    fs.writeFileSync(path.join(vol.mountpoint, 'f'), 'current');
    const before = manifest(vol.mountpoint);
    await assert.rejects(svc.restore('v', 'latest', { repository: repo }), /does not (match its ID|decompress)/);
    assert.equal(manifest(vol.mountpoint), before);

    // A truncated pack (an interrupted copy of the repository) is caught the same way.
    fs.truncateSync(biggest, Math.floor(fs.statSync(biggest).size / 2));
    await assert.rejects(svc.verify({ repository: repo }));
    await assert.rejects(svc.restore('v', 'latest', { repository: repo, target: 'fresh' }), /truncated|does not/);
    assert.equal(volumes.vols.has('fresh'), false);
    assert.equal(manifest(vol.mountpoint), before);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('restore into a volume in use is refused unless forced', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    const vol = await volumes.create({ name: 'v' });
    fs.writeFileSync(path.join(vol.mountpoint, 'f'), 'backed up');
    await svc.backup(['v'], { repository: repo });
    fs.writeFileSync(path.join(vol.mountpoint, 'f'), 'live');
    volumes.using.set('v', ['c0ffee']);
    await assert.rejects(svc.restore('v', 'latest', { repository: repo }), Conflict);
    assert.equal(fs.readFileSync(path.join(vol.mountpoint, 'f'), 'utf8'), 'live');
    await svc.restore('v', 'latest', { repository: repo, force: true });
    assert.equal(fs.readFileSync(path.join(vol.mountpoint, 'f'), 'utf8'), 'backed up');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('clone copies content and labels into a new volume and refuses an existing one', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const src = await volumes.create({ name: 'src', labels: { app: 'db' } });
    fillTree(src.mountpoint, { absoluteLink: true });
    const dst = await svc.clone('src', 'dst');
    assert.deepEqual(dst.labels, { app: 'db' });
    assert.equal(manifest(dst.mountpoint), manifest(src.mountpoint));
    await assert.rejects(svc.clone('src', 'dst'), Conflict);
    await assert.rejects(svc.clone('missing', 'z'), NotFound);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('an unchanged volume is backed up as a snapshot of the same tree that restic accepts', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    const vol = await volumes.create({ name: 'quiet' });
    fillTree(vol.mountpoint);
    const first = (await svc.backup(['quiet'], { repository: repo })).backups[0]!;
    const again = (await svc.backup(['quiet'], { repository: repo })).backups[0]!;
    assert.notEqual(again.ID, first.ID);
    assert.equal(again.BytesProcessed, 0, 'nothing was read');
    const snaps = JSON.parse(
      execFileSync('restic', ['-r', repo, '--no-cache', 'snapshots', '--json'], {
        env: { ...process.env, RESTIC_PASSWORD: svc.key().key },
      }).toString(),
    );
    assert.deepEqual(
      snaps.map((s: { id: string }) => s.id),
      [first.ID, again.ID],
    );
    assert.equal(snaps[1].tree, snaps[0].tree);
    assert.equal(snaps[1].parent, first.ID);

    // Same size and mtime, new content: ctime still moves, so this is a real backup.
    const f = path.join(vol.mountpoint, 'sub/deeper/long.txt');
    const st = fs.statSync(f);
    fs.writeFileSync(f, 'y'.repeat(st.size));
    fs.utimesSync(f, st.atime, st.mtime);
    const changed = manifest(vol.mountpoint);
    const third = (await svc.backup(['quiet'], { repository: repo })).backups[0]!;
    assert.ok(third.BytesProcessed > 0);

    // Only the repeated snapshot kept from the first tree: it still restores, and the repository checks out.
    await svc.forget({ repository: repo, keepLast: 2 });
    await svc.verify({ repository: repo });
    await svc.restore('quiet', again.ID, { repository: repo, target: 'q1' });
    const q1 = manifest((await volumes.get('q1')).mountpoint);
    assert.match(q1, /long\.txt 644 0:0 5000 1 /);
    assert.notEqual(q1, changed);
    await svc.restore('quiet', 'latest', { repository: repo, target: 'q3' });
    assert.equal(manifest((await volumes.get('q3')).mountpoint), changed);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('restore keeps times and special files (fifos); a backup holding a device node is refused as import refuses it', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    const vol = await volumes.create({ name: 'odd' });
    fs.writeFileSync(path.join(vol.mountpoint, 'old.txt'), 'from 2001');
    fs.utimesSync(path.join(vol.mountpoint, 'old.txt'), 1000000000.25, 1000000000.5);
    fs.chmodSync(path.join(vol.mountpoint, 'old.txt'), 0o4755);
    fs.mkdirSync(path.join(vol.mountpoint, 'tmp'));
    fs.chmodSync(path.join(vol.mountpoint, 'tmp'), 0o1777);
    execFileSync('mkfifo', [path.join(vol.mountpoint, 'pipe')]);
    await svc.backup(['odd'], { repository: repo });
    await svc.restore('odd', 'latest', { repository: repo, target: 'odd1' });
    const r1 = (await volumes.get('odd1')).mountpoint;
    assert.equal(fs.statSync(path.join(r1, 'old.txt')).mtimeMs, 1000000000500);
    assert.equal(fs.statSync(path.join(r1, 'old.txt')).mode & 0o7777, 0o4755);
    assert.equal(fs.statSync(path.join(r1, 'tmp')).mode & 0o7777, 0o1777);
    assert.ok(fs.lstatSync(path.join(r1, 'pipe')).isFIFO());

    execFileSync('mknod', [path.join(vol.mountpoint, 'null'), 'c', '1', '3']);
    await svc.backup(['odd'], { repository: repo });
    await assert.rejects(
      svc.restore('odd', 'latest', { repository: repo, target: 'odd2' }),
      /refusing to restore device node "null"/,
    );
    await assert.rejects(volumes.get('odd2'), /no such volume/, 'the target made for the restore is removed again');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
