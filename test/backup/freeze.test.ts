// Consistency of a volume in use: its running containers are frozen (cgroup freezer) while the
// backup reads it, so a SQLite database written continuously restores without corruption.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { Conflict } from '../../src/errors.js';
import { cgroupFreezer, freezerOf, pauseFreezer, withFrozenUsers } from '../../src/backup/freeze.js';
import { FakeContainers, makeService, tempDir } from './fixture.js';

const FREEZER = '/sys/fs/cgroup/freezer';

/** A cgroup named like a container's, with a process in it; undefined when the host has no v1 freezer. */
function containerCgroup(): { id: string; dir: string; enter(pid: number): void; remove(): void } | undefined {
  if (!fs.existsSync(path.join(FREEZER, 'cgroup.procs'))) return undefined;
  const id = randomBytes(32).toString('hex');
  const dir = path.join(FREEZER, 'strata-test', id);
  fs.mkdirSync(dir, { recursive: true });
  return {
    id,
    dir,
    enter: (pid) => fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid)),
    remove: () => {
      fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED');
      for (let i = 0; i < 50 && fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim(); i++)
        execFileSync('sleep', ['0.1']);
      fs.rmdirSync(dir);
      try {
        fs.rmdirSync(path.dirname(dir));
      } catch {
        /* another test's cgroup is still there */
      }
    },
  };
}

test('running users are frozen during the read and thawed after, even when it fails', async (t) => {
  const cg = containerCgroup();
  if (!cg) {
    t.skip('no cgroup v1 freezer on this host');
    return;
  }
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    cg.enter(sleeper.pid!);
    const containers = new FakeContainers();
    containers.add(cg.id, sleeper.pid!);
    const fz = freezerOf(sleeper.pid!, cg.id);
    assert.ok(fz, 'the freezer of the container cgroup is found');
    const seen = await withFrozenUsers(
      containers,
      cgroupFreezer,
      [cg.id],
      'v',
      { action: 'backup' },
      undefined,
      async () => fs.readFileSync(fz.file, 'utf8').trim(),
    );
    assert.equal(seen, 'FROZEN');
    assert.equal(fs.readFileSync(fz.file, 'utf8').trim(), 'THAWED');
    await assert.rejects(
      withFrozenUsers(containers, cgroupFreezer, [cg.id], 'v', { action: 'backup' }, undefined, async () => {
        throw new Error('read failed');
      }),
      /read failed/,
    );
    assert.equal(fs.readFileSync(fz.file, 'utf8').trim(), 'THAWED');
  } finally {
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
    cg.remove();
  }
});

test('the daemon freezes through pause and unpause: each running user thawed after the read, even when it fails', async () => {
  const containers = new FakeContainers();
  containers.add('a'.repeat(64), 1);
  containers.add('b'.repeat(64), 1, false);
  const calls: string[] = [];
  const freezer = pauseFreezer({
    pause: async (ref) => {
      calls.push(`pause ${ref.slice(0, 1)}`);
    },
    unpause: async (ref) => {
      calls.push(`unpause ${ref.slice(0, 1)}`);
    },
  });
  const users = ['a'.repeat(64), 'b'.repeat(64)];
  const seen = await withFrozenUsers(containers, freezer, users, 'v', { action: 'backup' }, undefined, async () => [
    ...calls,
  ]);
  assert.deepEqual(seen, ['pause a'], 'only the running user is paused, before the read');
  assert.deepEqual(calls, ['pause a', 'unpause a']);
  calls.length = 0;
  await assert.rejects(
    withFrozenUsers(containers, freezer, users, 'v', { action: 'backup' }, undefined, async () => {
      throw new Error('read failed');
    }),
    /read failed/,
  );
  assert.deepEqual(calls, ['pause a', 'unpause a']);
});

const WRITER = `
import sqlite3, sys, os
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute('PRAGMA journal_mode=WAL')
db.execute('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload BLOB, total INTEGER)')
open(sys.argv[2], 'w').close()
n = 0
while True:
    n += 1
    db.execute('BEGIN')
    db.execute('INSERT INTO t (payload, total) VALUES (?, ?)', (os.urandom(2000), n))
    db.execute('UPDATE t SET total = total + 1 WHERE id = (SELECT max(id) FROM t) - 1')
    db.execute('COMMIT')
`;

test('a SQLite database written during the backup restores intact; without a freezer the backup is refused unless forced', async (t) => {
  const cg = containerCgroup();
  if (!cg) {
    t.skip('no cgroup v1 freezer on this host');
    return;
  }
  const root = tempDir();
  const { svc, volumes, containers } = makeService(root);
  const vol = await volumes.create({ name: 'db' });
  const ready = path.join(root, 'ready');
  const writer = spawn('python3', ['-c', WRITER, path.join(vol.mountpoint, 'app.db'), ready], { stdio: 'ignore' });
  try {
    cg.enter(writer.pid!);
    for (let i = 0; i < 100 && !fs.existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    volumes.using.set('db', [cg.id]);
    containers.add(cg.id, writer.pid!);
    const repo = path.join(root, 'repo');
    await svc.backup(['db'], { repository: repo });
    assert.equal(writer.exitCode, null, 'the writer kept running after the freeze');
    await svc.restore('db', 'latest', { repository: repo, target: 'db-restored' });
    const restored = path.join((await volumes.get('db-restored')).mountpoint, 'app.db');
    const check = execFileSync('python3', [
      '-c',
      `import sqlite3,sys
db = sqlite3.connect(sys.argv[1])
print(db.execute('PRAGMA integrity_check').fetchone()[0], db.execute('SELECT count(*) FROM t').fetchone()[0])`,
      restored,
    ])
      .toString()
      .trim()
      .split(' ');
    assert.equal(check[0], 'ok');
    assert.ok(Number(check[1]) > 0, 'rows were restored');

    // The same container, but no cgroup names it: nothing can freeze it.
    const unfreezable = 'f'.repeat(64);
    volumes.using.set('db', [unfreezable]);
    containers.add(unfreezable, writer.pid!);
    await assert.rejects(svc.backup(['db'], { repository: repo }), Conflict);
    const forced = await svc.backup(['db'], { repository: repo, force: true });
    assert.equal(forced.backups.length, 1);
  } finally {
    writer.kill('SIGKILL');
    await new Promise((r) => writer.once('exit', r));
    cg.remove();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
