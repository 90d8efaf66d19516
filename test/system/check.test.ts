// `strata system check` against a fault-injection corpus: every kind of fault is put into a
// real data-root, found through the CLI with its kind, path and size, and repaired; what a
// crash can leave is also injected into a stopped data-root, and startup recovery alone must
// leave nothing for the check to find.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { mountsUnder, ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

const strataBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/strata');

interface Report {
  Mode: string;
  Faults: { Kind: string; Path: string; Size: number; Detail: string; Repaired: boolean; Action?: string }[];
  Remaining: number;
  Skipped: string[];
}

function check(d: TestDaemon, ...flags: string[]): { status: number; report: Report; stdout: string } {
  const r = spawnSync(strataBin, ['-H', d.host, 'system', 'check', '--format', 'json', ...flags], { encoding: 'utf8' });
  assert.ok(r.stdout, `check printed nothing: ${r.stderr}`);
  return { status: r.status ?? -1, report: JSON.parse(r.stdout) as Report, stdout: r.stdout };
}

const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
};

async function setUp(d: TestDaemon): Promise<void> {
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:1'));
  ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
  ok(
    d.docker(['run', '--name', 'writer', '-v', 'vol1:/data', 'bb:1', 'sh', '-c', 'echo kept > /data/f']),
    'run writer',
  );
  ok(d.docker(['create', '--name', 'c2', 'bb:1', 'true']), 'create c2');
}

const driverOf = (d: TestDaemon) =>
  fs.readdirSync(path.join(d.dataRoot, 'snapshots')).find((n) => n === 'overlay2' || n === 'vfs')!;
const idOf = (d: TestDaemon, name: string) => ok(d.docker(['inspect', '-f', '{{.Id}}', name]), 'inspect').trim();

function db(d: TestDaemon): Database.Database {
  const h = new Database(path.join(d.dataRoot, 'strata.db'));
  h.pragma('busy_timeout = 5000');
  return h;
}

test('every fault kind injected into a live data-root is found by strata system check and repaired by --repair', async () => {
  const d = await startDaemon();
  try {
    await setUp(d);
    const driver = driverOf(d);
    const snapRoot = path.join(d.dataRoot, 'snapshots', driver);
    const clean = check(d);
    assert.equal(clean.status, 0, clean.stdout);
    assert.deepEqual(clean.report.Faults, []);
    assert.equal(clean.report.Mode, 'full');

    // 1. a snapshot directory no row owns
    fs.mkdirSync(path.join(snapRoot, '99999', 'fs'), { recursive: true });
    fs.writeFileSync(path.join(snapRoot, '99999', 'fs', 'junk'), 'x'.repeat(1000));
    // 2. a snapshot row whose directory is gone (a container's writable layer)
    ok(d.docker(['create', '--name', 'c3', 'bb:1', 'true']), 'create c3');
    const h = db(d);
    const c3 = idOf(d, 'c3');
    const c3Snap = h.prepare('SELECT id FROM snapshots WHERE key = ?').pluck().get(`container-${c3}`) as number;
    fs.rmSync(path.join(snapRoot, String(c3Snap)), { recursive: true });
    // 3. a damaged file in a layer
    const layer = h
      .prepare('SELECT s.id FROM image_layers l JOIN snapshots s ON s.key = l.chain_id')
      .pluck()
      .get() as number;
    const passwd = path.join(snapRoot, String(layer), 'fs', 'etc', 'passwd');
    const original = fs.readFileSync(passwd);
    fs.writeFileSync(passwd, 'root:x:0:0:tampered\n');
    // 4. a stale mount under tmp/
    const stale = path.join(d.dataRoot, 'tmp', `init-${'cd'.repeat(32)}`);
    fs.mkdirSync(stale, { recursive: true });
    sh('mount', ['-t', 'tmpfs', 'tmpfs', stale]);
    // 5. a container directory no row owns, and 6. a container row without its directory
    const strayId = 'ef'.repeat(32);
    fs.mkdirSync(path.join(d.dataRoot, 'containers', strayId));
    fs.writeFileSync(path.join(d.dataRoot, 'containers', strayId, 'config.v2.json'), '{}');
    const c2 = idOf(d, 'c2');
    fs.rmSync(path.join(d.dataRoot, 'containers', c2), { recursive: true });
    // 7. a half ingest
    fs.mkdirSync(path.join(d.dataRoot, 'content', 'ingest', '1-dead-x'), { recursive: true });
    fs.writeFileSync(path.join(d.dataRoot, 'content', 'ingest', '1-dead-x', 'data'), 'half');
    // 8. volume directories without a row (one with data, one empty), 9. a volume row without its directory
    fs.mkdirSync(path.join(d.dataRoot, 'volumes', 'orphanvol', '_data'), { recursive: true });
    fs.writeFileSync(path.join(d.dataRoot, 'volumes', 'orphanvol', '_data', 'precious'), 'keep me');
    fs.mkdirSync(path.join(d.dataRoot, 'volumes', 'emptyvol', '_data'), { recursive: true });
    ok(d.docker(['volume', 'create', 'vol2']), 'volume create');
    fs.rmSync(path.join(d.dataRoot, 'volumes', 'vol2'), { recursive: true });
    // 10. a tag naming an image that does not exist, 11. a volume held by a container that does not exist
    h.pragma('foreign_keys = OFF');
    h.prepare('INSERT INTO image_refs (ref, image_id, created) VALUES (?, ?, ?)').run(
      'docker.io/library/ghost:latest',
      `sha256:${'0'.repeat(64)}`,
      Date.now(),
    );
    h.prepare('INSERT INTO volume_refs (volume, container_id) VALUES (?, ?)').run('vol1', '12'.repeat(32));
    h.close();

    const found = check(d);
    assert.equal(found.status, 1, 'exit status 1 while faults remain');
    const kinds = new Map<string, Report['Faults']>();
    for (const f of found.report.Faults) kinds.set(f.Kind, [...(kinds.get(f.Kind) ?? []), f]);
    const expect = (kind: string, pathPart: string, size?: (n: number) => boolean) => {
      const f = (kinds.get(kind) ?? []).find((x) => x.Path.includes(pathPart));
      assert.ok(f, `${kind} at ${pathPart} not found in ${JSON.stringify(found.report.Faults, null, 1)}`);
      if (size) assert.ok(size(f.Size), `${kind} size ${f.Size}`);
    };
    expect('snapshot-dir-orphan', '99999', (n) => n === 1000);
    expect('snapshot-dir-missing', String(c3Snap));
    expect('layer-corrupt', `${layer}/fs`);
    expect('stale-mount', stale);
    expect('scratch-leftover', stale);
    expect('container-dir-orphan', strayId, (n) => n === 2);
    expect('container-dir-missing', c2);
    expect('ingest-leftover', '1-dead-x', (n) => n === 4);
    expect('volume-dir-orphan', 'orphanvol', (n) => n === 7);
    expect('volume-dir-orphan', 'emptyvol', (n) => n === 0);
    expect('volume-dir-missing', 'vol2');
    expect('tag-dangling', 'ghost:latest');
    expect('volume-ref-orphan', 'vol1');
    const human = spawnSync(strataBin, ['-H', d.host, 'system', 'check', '--quick'], { encoding: 'utf8' });
    assert.equal(human.status, 1);
    assert.match(human.stdout, /KIND\s+PATH\s+SIZE\s+DETAIL/);
    assert.match(human.stdout, /container-dir-orphan/);
    assert.doesNotMatch(human.stdout, /layer-corrupt/, 'quick mode does not read layers');

    const repaired = check(d, '--repair');
    // The layer is kept as its files plus a tar-split record: nothing else holds the bytes the
    // tampered file had, so the check can only say what to do.
    assert.equal(repaired.status, 1, repaired.stdout);
    assert.equal(repaired.report.Remaining, 1);
    assert.ok(
      repaired.report.Faults.every((f) => f.Repaired === (f.Kind !== 'layer-corrupt')),
      repaired.stdout,
    );
    const corrupt = repaired.report.Faults.find((f) => f.Kind === 'layer-corrupt')!;
    assert.match(corrupt.Detail, /does not match its diffID/);
    assert.match(corrupt.Action ?? '', /load or pull them again/);
    fs.writeFileSync(passwd, original);
    assert.deepEqual(check(d).report.Faults, [], 'with its bytes back, a second check finds nothing');

    // The repairs kept what they had to keep.
    assert.deepEqual(mountsUnder(d.dataRoot), []);
    assert.equal(ok(d.docker(['run', '--rm', '-v', 'vol1:/data', 'bb:1', 'cat', '/data/f']), 'vol1').trim(), 'kept');
    assert.equal(
      ok(d.docker(['run', '--rm', '-v', 'orphanvol:/v', 'bb:1', 'cat', '/v/precious']), 'adopted').trim(),
      'keep me',
    );
    assert.match(
      ok(d.docker(['run', '--rm', 'bb:1', 'cat', '/etc/passwd']), 'passwd'),
      /^root:x:0:0:root:\/root:\/bin\/sh\n/,
    );
    ok(d.docker(['start', 'c2']), 'c2 starts with its directory made again');
    const names = ok(d.docker(['ps', '-a', '--format', '{{.Names}}']), 'ps')
      .trim()
      .split('\n')
      .sort();
    assert.deepEqual(names, ['c2', 'writer'], 'c3 lost its writable layer and was removed');
    assert.equal(d.docker(['volume', 'inspect', 'vol2']).status, 1);
    assert.equal(d.docker(['volume', 'inspect', 'emptyvol']).status, 1);
  } finally {
    await d.stop();
  }
});

test('what a crash leaves in a stopped data-root is gone after startup recovery alone', async () => {
  const first = await startDaemon();
  let second: TestDaemon | undefined;
  try {
    await setUp(first);
    ok(first.docker(['create', '--rm', '--name', 'autorm', 'bb:1', 'true']), 'create --rm');
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    const driver = driverOf(first);
    const snapRoot = path.join(first.dataRoot, 'snapshots', driver);
    const h = db(first);
    // A create killed half way: its mark, the init layer being prepared (row and directory),
    // the init layer mounted under tmp/, its container directory.
    const half = 'ab'.repeat(32);
    const top = h
      .prepare("SELECT id FROM snapshots WHERE kind = 'committed' AND key LIKE 'sha256:%' ORDER BY id DESC")
      .pluck()
      .get() as number;
    const next = (h.prepare('SELECT MAX(id) FROM snapshots').pluck().get() as number) + 1;
    fs.mkdirSync(path.join(snapRoot, String(next), 'fs'), { recursive: true });
    if (driver === 'overlay2') fs.mkdirSync(path.join(snapRoot, String(next), 'work'));
    h.prepare(
      "INSERT INTO snapshots (id, driver, key, kind, parent_id, labels, created) VALUES (?, ?, ?, 'active', ?, '{}', ?)",
    ).run(next, driver, `container-${half}-init-prepare`, top, Date.now());
    h.prepare('INSERT INTO incomplete (kind, key, started, detail) VALUES (?, ?, ?, ?)').run(
      'container-create',
      half,
      Date.now(),
      JSON.stringify({ volumes: [], refs: [] }),
    );
    const initTmp = path.join(first.dataRoot, 'tmp', `init-${half}`);
    fs.mkdirSync(initTmp, { recursive: true });
    sh('mount', ['-t', 'tmpfs', 'tmpfs', initTmp]);
    fs.mkdirSync(path.join(first.dataRoot, 'containers', half));
    // An interrupted extraction, a snapshot directory no row owns, a build step's rootfs still mounted.
    fs.mkdirSync(path.join(snapRoot, String(next + 1), 'fs'), { recursive: true });
    h.prepare(
      "INSERT INTO snapshots (id, driver, key, kind, parent_id, labels, created) VALUES (?, ?, 'extract-feed', 'active', NULL, '{}', ?)",
    ).run(next + 1, driver, Date.now());
    fs.mkdirSync(path.join(snapRoot, String(next + 7), 'fs'), { recursive: true });
    const buildRoot = path.join(first.dir, 'exec', 'build', 'ws', 'rootfs');
    fs.mkdirSync(buildRoot, { recursive: true });
    sh('mount', ['-t', 'tmpfs', 'tmpfs', buildRoot]);
    // A half ingest, a removal of a volume that got as far as its directory, a volume being made.
    fs.mkdirSync(path.join(first.dataRoot, 'content', 'ingest', '1-dead-x'), { recursive: true });
    fs.rmSync(path.join(first.dataRoot, 'volumes', 'vol1'), { recursive: true });
    fs.mkdirSync(path.join(first.dataRoot, 'volumes', 'newvol', '_data'), { recursive: true });
    h.close();

    second = await startDaemon(['--data-root', first.dataRoot, '--exec-root', path.join(first.dir, 'exec')]);
    const r = check(second);
    assert.deepEqual(r.report.Faults, [], JSON.stringify(r.report, null, 1));
    assert.equal(r.status, 0);
    assert.deepEqual(r.report.Skipped, []);
    assert.deepEqual(mountsUnder(first.dataRoot), []);
    assert.deepEqual(mountsUnder(path.join(first.dir, 'exec')), []);
    const names = ok(second.docker(['ps', '-a', '--format', '{{.Names}}']), 'ps')
      .trim()
      .split('\n')
      .sort();
    assert.deepEqual(names, ['c2', 'writer']);
  } finally {
    await second?.stop();
    await first.stop();
  }
});

test('a check on a busy daemon flags nothing that is being made or removed right now', async () => {
  const d = await startDaemon();
  try {
    await setUp(d);
    const env = { ...process.env, DOCKER_HOST: d.host, DOCKER_BUILDKIT: '0' };
    const run = (cmd: string, args: string[]) =>
      new Promise<{ status: number; stdout: string }>((resolve) => {
        const p = spawn(cmd, args, { env });
        let stdout = '';
        p.stdout.on('data', (c: Buffer) => {
          stdout += c.toString();
        });
        p.on('close', (status) => resolve({ status: status ?? -1, stdout }));
      });
    const ctx = path.join(d.dir, 'ctx');
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM bb:1\nRUN echo built > /built\n');
    let busy = true;
    const workload = (async () => {
      for (let i = 0; busy; i++) {
        await Promise.all([
          run('docker', ['load', '-i', path.join(d.dir, 'bb.tar')]),
          run('docker', ['run', '--rm', '-v', `busy${i}:/data`, 'bb:1', 'sh', '-c', 'echo x > /data/f']),
          run('docker', ['create', '--name', `busy${i}`, 'bb:1', 'true']).then(() => run('docker', ['rm', `busy${i}`])),
          run('docker', ['build', '--no-cache', '-q', '-t', `busy:${i}`, ctx]),
        ]);
        await run('docker', ['volume', 'rm', `busy${i}`]);
      }
    })();
    for (let i = 0; i < 6; i++) {
      const r = await run(strataBin, ['-H', d.host, 'system', 'check', '--format', 'json']);
      const report = JSON.parse(r.stdout) as Report;
      assert.deepEqual(report.Faults, [], JSON.stringify(report, null, 1));
      assert.equal(r.status, 0);
    }
    busy = false;
    await workload;
    assert.deepEqual(check(d).report.Faults, [], 'and once the daemon is idle, nothing is left');
  } finally {
    await d.stop();
  }
});
