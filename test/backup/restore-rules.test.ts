// Restores apply import's refusals to what a repository holds: a backup forged by anyone who can
// write to a repository under the former public password cannot plant a device node, a setuid
// file or an impossible volume root. New repositories use the daemon's own key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { InvalidParameter } from '../../src/errors.js';
import { initRepository } from '../../src/backup/restic-init.js';
import { makeService, manifest, tempDir } from './fixture.js';

/** A snapshot written straight into `repo` with restic under `password`, as a forger would. */
function forge(repo: string, password: string, dir: string, tags: string[]): void {
  execFileSync('restic', ['-r', repo, '--no-cache', 'backup', '--tag', tags.join(','), '.'], {
    cwd: dir,
    env: { ...process.env, RESTIC_PASSWORD: password },
    stdio: 'ignore',
  });
}

test('a forged backup in a repository under the old public password cannot plant devices, setuid files or an odd root', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    fs.mkdirSync(repo);
    initRepository(repo, 'strata');
    const vol = await volumes.create({ name: 'v' });
    fs.writeFileSync(path.join(vol.mountpoint, 'keep.txt'), 'precious');
    const before = manifest(vol.mountpoint);

    const plain = path.join(root, 'plain');
    fs.mkdirSync(plain);
    fs.writeFileSync(path.join(plain, 'suid'), '#!/bin/sh\n');
    fs.chmodSync(path.join(plain, 'suid'), 0o4755);
    fs.mkdirSync(path.join(plain, 'shared'));
    fs.chmodSync(path.join(plain, 'shared'), 0o2775);
    const devs = path.join(root, 'devs');
    fs.mkdirSync(devs);
    execFileSync('mknod', [path.join(devs, 'mem'), 'c', '1', '1']);

    // A volume root no volume has: refused before anything is written.
    forge(repo, 'strata', plain, ['volume:v', 'root:7777:4242:4242']);
    await assert.rejects(svc.restore('v', 'latest', { repository: repo }), (err: Error) => {
      assert.ok(err instanceof InvalidParameter, String(err));
      assert.match(err.message, /volume root \(mode 7777, owner 4242:4242\)/);
      return true;
    });
    assert.equal(manifest(vol.mountpoint), before);

    // A character device (/dev/mem's numbers): refused, the volume untouched.
    forge(repo, 'strata', devs, ['volume:v', 'root:755:0:0']);
    await assert.rejects(svc.restore('v', 'latest', { repository: repo }), (err: Error) => {
      assert.ok(err instanceof InvalidParameter, String(err));
      assert.match(err.message, /refusing to restore device node "mem"/);
      return true;
    });
    assert.equal(manifest(vol.mountpoint), before);

    // Setuid and setgid bits do not survive a repository anyone could have written.
    forge(repo, 'strata', plain, ['volume:v', 'root:2775:4242:4242']);
    await svc.restore('v', 'latest', { repository: repo });
    assert.equal(fs.statSync(path.join(vol.mountpoint, 'suid')).mode & 0o7777, 0o755);
    assert.equal(fs.statSync(path.join(vol.mountpoint, 'shared')).mode & 0o7777, 0o775);
    assert.equal(fs.statSync(vol.mountpoint).mode & 0o7777, 0o775);
    assert.equal(fs.statSync(vol.mountpoint).uid, 4242);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("new repositories are sealed with the daemon's own key, kept 0600 in the data-root", async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const repo = path.join(root, 'repo');
    const vol = await volumes.create({ name: 'v' });
    fs.writeFileSync(path.join(vol.mountpoint, 'f'), 'data');
    fs.chmodSync(path.join(vol.mountpoint, 'f'), 0o4755);
    await svc.backup(['v'], { repository: repo });
    const keyFile = path.join(root, 'backup', 'repository.key');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    const { key } = svc.key();
    assert.match(key, /^[A-Za-z0-9_-]{43}$/);
    const snapshots = (pw: string) =>
      spawnSync('restic', ['-r', repo, '--no-cache', 'snapshots', '--json'], {
        env: { ...process.env, RESTIC_PASSWORD: pw },
      }).status;
    assert.notEqual(snapshots('strata'), 0, 'the old public password does not open it');
    assert.equal(snapshots(key), 0);
    // The daemon's own backups keep their setuid bits.
    await svc.restore('v', 'latest', { repository: repo, target: 'w' });
    assert.equal(fs.statSync(path.join((await volumes.get('w')).mountpoint, 'f')).mode & 0o7777, 0o4755);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
