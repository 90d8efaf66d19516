// A daemon killed while something was mounted under its data-root's tmp/ (a container's init
// layer being set up) or its exec-root starts again; the sweep detaches those mounts and
// never deletes through one; a create the daemon did not finish is rolled back; an AutoRemove
// container left behind is removed, as Docker does at restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { mountsUnder, ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { sweepScratch } from '../../src/system/recovery.js';
import { removeTreeNoCross } from '../../src/mount/scratch.js';
import { silentLogger } from '../../src/util/log.js';
import { busyboxArchive } from '../container/busybox-image.js';

const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
};

test('the scratch sweep detaches nested mounts under tmp/ and the exec-root and never deletes a bind source', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-sweep-'));
  const dataRoot = path.join(dir, 'root');
  const execRoot = path.join(dir, 'exec');
  const source = path.join(dir, 'source');
  try {
    fs.mkdirSync(source);
    fs.writeFileSync(path.join(source, 'precious'), 'keep me');
    const init = path.join(dataRoot, 'tmp', 'init-x');
    const nested = path.join(init, 'etc');
    const staged = path.join(execRoot, 'build', 'ws', 'rootfs');
    for (const d of [init, staged]) fs.mkdirSync(d, { recursive: true });
    sh('mount', ['-t', 'tmpfs', 'tmpfs', init]);
    fs.mkdirSync(nested);
    sh('mount', ['--bind', source, nested]);
    sh('mount', ['--bind', source, staged]);
    assert.equal(mountsUnder(dir).length, 3);

    await sweepScratch(dataRoot, execRoot, silentLogger);

    assert.deepEqual(mountsUnder(dir), []);
    assert.deepEqual(fs.readdirSync(path.join(dataRoot, 'tmp')), []);
    assert.deepEqual(fs.readdirSync(path.join(execRoot, 'build')), []);
    assert.equal(fs.readFileSync(path.join(source, 'precious'), 'utf8'), 'keep me');
  } finally {
    for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('removing a tree never descends into a mount point in it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-rmtree-'));
  const source = path.join(dir, 'source');
  const tree = path.join(dir, 'tree');
  const inner = path.join(tree, 'a', 'mnt');
  try {
    fs.mkdirSync(source);
    fs.writeFileSync(path.join(source, 'precious'), 'keep me');
    fs.mkdirSync(inner, { recursive: true });
    fs.writeFileSync(path.join(tree, 'a', 'file'), 'x');
    sh('mount', ['--bind', source, inner]);
    const kept = removeTreeNoCross(tree);
    assert.deepEqual(kept, [inner]);
    assert.equal(fs.readFileSync(path.join(source, 'precious'), 'utf8'), 'keep me');
    assert.ok(!fs.existsSync(path.join(tree, 'a', 'file')));
    sh('umount', [inner]);
    assert.deepEqual(removeTreeNoCross(tree), []);
    assert.ok(!fs.existsSync(tree));
  } finally {
    for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A new daemon on `d`'s data-root and exec-root (a restart after `d` was killed). */
const restart = (d: TestDaemon) => startDaemon(['--data-root', d.dataRoot, '--exec-root', path.join(d.dir, 'exec')]);

test('a daemon killed with an init layer mounted under tmp/, a create half-made and an AutoRemove container starts clean', async () => {
  const first = await startDaemon();
  let second: TestDaemon | undefined;
  try {
    const archive = await busyboxArchive('bb:1');
    fs.writeFileSync(path.join(first.dir, 'bb.tar'), archive);
    ok(first.docker(['load', '-i', path.join(first.dir, 'bb.tar')]), 'load');
    ok(first.docker(['create', '--name', 'keep', 'bb:1', 'true']), 'create keep');
    ok(first.docker(['create', '--rm', '--name', 'gone', 'bb:1', 'true']), 'create --rm');
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));

    // What a kill in the middle of `docker create` leaves: the init layer mounted under tmp/,
    // a container directory and an init-prepare snapshot with no container row, and its mark.
    const id = 'ab'.repeat(32);
    const initTmp = path.join(first.dataRoot, 'tmp', `init-${id}`);
    fs.mkdirSync(initTmp, { recursive: true });
    sh('mount', ['-t', 'tmpfs', 'tmpfs', initTmp]);
    fs.mkdirSync(path.join(first.dataRoot, 'containers', id));
    const db = new Database(path.join(first.dataRoot, 'strata.db'));
    db.prepare('INSERT INTO incomplete (kind, key, started, detail) VALUES (?, ?, ?, ?)').run(
      'container-create',
      id,
      Date.now(),
      JSON.stringify({ volumes: [], refs: [] }),
    );
    db.close();

    second = await restart(first);
    assert.deepEqual(mountsUnder(first.dataRoot), [], 'nothing left mounted under the data-root');
    assert.deepEqual(fs.readdirSync(path.join(first.dataRoot, 'tmp')), []);
    assert.ok(!fs.existsSync(path.join(first.dataRoot, 'containers', id)), 'the half-made container directory is gone');
    const names = ok(second.docker(['ps', '-a', '--format', '{{.Names}}']), 'ps')
      .trim()
      .split('\n')
      .filter(Boolean);
    assert.deepEqual(names, ['keep'], 'the AutoRemove container is removed, the other one kept');
    const left = new Database(path.join(first.dataRoot, 'strata.db'), { readonly: true });
    assert.equal(left.prepare('SELECT COUNT(*) FROM incomplete').pluck().get(), 0);
    left.close();
  } finally {
    await second?.stop();
    await first.stop();
  }
});
