// Crash safety: what a restart finds and what cleanup() does with it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeFixture, type Driver } from './fixture.js';
import { EXTRACT_KEY_PREFIX } from '../../src/snapshot/snapshotter.js';
import { NotFound } from '../../src/errors.js';
import { mountAll, unmount } from '../../src/mount/kernel.js';

for (const driver of ['overlay2', 'vfs', 'btrfs'] as Driver[]) {
  test(`${driver}: cleanup removes interrupted extractions and directories no row owns`, async () => {
    const fx = await makeFixture(driver);
    try {
      assert.equal(EXTRACT_KEY_PREFIX, 'extract-');
      await fx.sn.prepare('extract-done');
      await fx.sn.commit('sha256:base', 'extract-done');
      await fx.sn.prepare('extract-interrupted', 'sha256:base');
      await fx.sn.prepare('container-keep', 'sha256:base');
      await fx.sn.view('view-keep', 'sha256:base');
      // A crash between mkdir and the row insert leaves a numbered directory nobody owns.
      // (On btrfs that directory holds a subvolume.)
      await mkdir(path.join(fx.root, '9999'));
      if (driver === 'btrfs') execFileSync('btrfs', ['subvolume', 'create', path.join(fx.root, '9999', 'fs')]);
      else await mkdir(path.join(fx.root, '9999', 'fs'));
      await writeFile(path.join(fx.root, '9999', 'fs', 'junk'), 'junk');
      await mkdir(path.join(fx.root, 'stray'));
      const before = (await readdir(fx.root)).length;

      const sn = await fx.reopen();
      await sn.cleanup();
      await assert.rejects(sn.stat('extract-interrupted'), NotFound);
      assert.equal((await sn.stat('container-keep')).kind, 'active');
      assert.equal((await sn.stat('view-keep')).kind, 'view');
      assert.equal((await sn.stat('sha256:base')).kind, 'committed');
      const after = await readdir(fx.root);
      assert.equal(before, 6);
      assert.equal(after.length, 3);
      assert.ok(!after.includes('9999') && !after.includes('stray'));
      if (driver === 'btrfs') {
        const subvolumes = execFileSync('btrfs', ['subvolume', 'list', fx.root], { encoding: 'utf8' });
        assert.equal(subvolumes.trim().split('\n').length, 2, subvolumes); // sha256:base and container-keep
      }
      // New snapshots never reuse the number of a directory seen at startup.
      await sn.prepare('container-new', 'sha256:base');
      const ids = (await readdir(fx.root)).map(Number);
      assert.ok(Math.max(...ids) > 9999);
    } finally {
      await fx.close();
    }
  });
}

test('cleanup never deletes through a mount point', async () => {
  const fx = await makeFixture('overlay2');
  try {
    const orphan = path.join(fx.root, '777');
    const victim = path.join(fx.tmp, 'victim');
    await mkdir(path.join(orphan, 'fs'), { recursive: true });
    await mkdir(victim);
    await writeFile(path.join(victim, 'precious'), 'keep me');
    await mountAll([{ type: 'bind', source: victim, options: ['rw', 'rbind'] }], path.join(orphan, 'fs'));
    try {
      await fx.sn.cleanup();
      assert.deepEqual(await readdir(path.join(orphan, 'fs')), ['precious']);
    } finally {
      await unmount(path.join(orphan, 'fs'));
    }
    assert.deepEqual(await readdir(victim), ['precious']);
    await fx.sn.cleanup();
    assert.deepEqual(await readdir(fx.root), []);
  } finally {
    await fx.close();
  }
});
