// The strata CLI and the /strata/ endpoints against a real daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { fillTree, manifest } from './fixture.js';
import { busyboxArchive, findStaticBusybox } from '../container/busybox-image.js';

const strataBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/strata');

function strata(d: TestDaemon, args: string[], input?: Buffer) {
  return spawnSync(strataBin, ['-H', d.host, 'volume', ...args], {
    input,
    env: { ...process.env, STRATA_BACKUP_PASSWORD: 's3cret' },
    timeout: 120_000,
  });
}

function mountpointOf(d: TestDaemon, name: string): string {
  const r = d.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', name]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('strata volume export/import/backup/restore/verify/clone through the daemon', async () => {
  const d = await startDaemon();
  try {
    assert.equal(d.docker(['volume', 'create', 'app']).status, 0);
    const src = mountpointOf(d, 'app');
    fillTree(src, { absoluteLink: true });
    const repo = path.join(d.dir, 'repo');

    let r = strata(d, ['backup', 'app', '--to', repo]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /^app: backup [0-9a-f]{8} /);
    assert.equal(r.stderr.toString(), '', 'no progress drawn when stderr is not a terminal');
    r = strata(d, ['backups', '--from', repo]);
    assert.match(r.stdout.toString(), /^BACKUP ID\s+VOLUME\s+CREATED\n[0-9a-f]{8}\s+app\s+/);

    // The repository is a restic one, under the password the CLI sent.
    const snap = spawnSync('restic', ['-r', repo, '--no-cache', 'snapshots', '--json'], {
      env: { ...process.env, RESTIC_PASSWORD: 's3cret' },
    });
    assert.equal(snap.status, 0, snap.stderr.toString());
    const wrong = await d.request('GET', `/strata/backups?repository=${encodeURIComponent(repo)}`);
    assert.equal(wrong.status, 403, 'the default password does not open it');

    r = strata(d, ['restore', 'app@latest', '--from', repo, '--to', 'app-copy']);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(manifest(mountpointOf(d, 'app-copy')), manifest(src));

    r = strata(d, ['verify', '--from', repo]);
    assert.equal(r.status, 0, r.stderr.toString());

    r = strata(d, ['clone', 'app', 'app-clone']);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(manifest(mountpointOf(d, 'app-clone')), manifest(src));
    r = strata(d, ['clone', 'app', 'app-clone']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr.toString(), /volume app-clone already exists/);
    const cloned = manifest(mountpointOf(d, 'app-clone'));
    r = strata(d, ['rename', 'app-clone', 'app-renamed']);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), 'app-renamed\n');
    assert.equal(manifest(mountpointOf(d, 'app-renamed')), cloned);
    assert.notEqual(d.docker(['volume', 'inspect', 'app-clone']).status, 0);

    fs.rmSync(path.join(src, 'abs-link'));
    r = strata(d, ['export', 'app']);
    assert.equal(r.status, 0, r.stderr.toString());
    const tar = r.stdout;
    r = strata(d, ['import', 'app-imported', '-'], tar);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(manifest(mountpointOf(d, 'app-imported')), manifest(src));

    const missing = await d.request('POST', '/strata/volumes/nope/export');
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.body).message, /no such volume/);
    const noBackup = await d.request('POST', '/strata/volumes/app/restore', { Repository: repo, Backup: 'abcdef12' });
    assert.equal(noBackup.status, 403, 'wrong password is reported before the backup lookup');
    const badRepo = await d.request('POST', '/strata/volumes/backup', { Volumes: ['app'], Repository: 'relative/dir' });
    assert.equal(badRepo.status, 400);
  } finally {
    await d.stop();
  }
});

test('a volume written by a running container is backed up frozen, and restore into it is refused unless forced', async (t) => {
  if (!findStaticBusybox()) {
    t.skip('no statically linked busybox on this host');
    return;
  }
  const d = await startDaemon();
  try {
    fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:backup'));
    assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
    // The writer updates a, then z; a backup reads a, the big m, then z: unfrozen, z has moved on.
    assert.equal(d.docker(['volume', 'create', 'live']).status, 0);
    const mp = mountpointOf(d, 'live');
    fs.writeFileSync(path.join(mp, 'm'), crypto.randomBytes(48 << 20));
    const run = d.docker([
      'run',
      '-d',
      '--name',
      'writer',
      '-v',
      'live:/data',
      'bb:backup',
      'sh',
      '-c',
      'i=0; while :; do i=$((i+1)); echo $i > /data/a; echo $i > /data/z; done',
    ]);
    assert.equal(run.status, 0, run.stderr);
    for (let i = 0; i < 100 && !fs.existsSync(path.join(mp, 'z')); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    const repo = path.join(d.dir, 'repo');
    let r = strata(d, ['backup', 'live', '--to', repo]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(d.docker(['inspect', '-f', '{{.State.Running}}', 'writer']).stdout.trim(), 'true');

    r = strata(d, ['restore', 'live@latest', '--from', repo, '--to', 'snap']);
    assert.equal(r.status, 0, r.stderr.toString());
    const snap = mountpointOf(d, 'snap');
    // One moment of the writer: a = z, or a = z + 1, or one of them empty between its truncate and write.
    const [a, z] = ['a', 'z'].map((f) => fs.readFileSync(path.join(snap, f), 'utf8').trim());
    assert.ok(
      a === '' || z === '' || Number(a) - Number(z) === 0 || Number(a) - Number(z) === 1,
      `one moment: a=${a} z=${z}`,
    );

    r = strata(d, ['restore', 'live@latest', '--from', repo]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr.toString(), /restore live: volume is in use - \[[0-9a-f]{64}\]/);
    const hostile = await d.request('POST', '/strata/volumes/live/restore', { Repository: repo });
    assert.equal(hostile.status, 409);
    r = strata(d, ['restore', 'live@latest', '--from', repo, '--force']);
    assert.equal(r.status, 0, r.stderr.toString());
  } finally {
    d.docker(['rm', '-f', 'writer']);
    await d.stop();
  }
});
