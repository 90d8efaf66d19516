// The strata CLI and the /strata/ endpoints against a real daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { fillTree, manifest } from './fixture.js';

const strataBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/strata');

function strata(d: TestDaemon, args: string[], input?: Buffer) {
  return spawnSync(process.execPath, [strataBin, '-H', d.host, 'volume', ...args], { input, env: { ...process.env, STRATA_BACKUP_PASSWORD: 's3cret' }, timeout: 120_000 });
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
    const snap = spawnSync('restic', ['-r', repo, '--no-cache', 'snapshots', '--json'], { env: { ...process.env, RESTIC_PASSWORD: 's3cret' } });
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
