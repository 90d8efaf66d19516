// A committed snapshot's usage is measured once and kept in its row: after a restart nothing is
// walked again, and an active snapshot is still measured afresh each time (its files change).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeFixture, type Driver } from './fixture.js';

for (const driver of ['overlay2', 'vfs'] as Driver[]) {
  test(`${driver}: committed usage is kept in the row and survives a reopen; active usage follows the files`, async () => {
    const fx = await makeFixture(driver);
    try {
      await fx.sn.prepare('work');
      const target = await fx.sn.applyTarget('work');
      fs.writeFileSync(path.join(target.dir, 'a'), 'x'.repeat(1000));
      const active1 = await fx.sn.usage('work');
      fs.writeFileSync(path.join(target.dir, 'b'), 'y'.repeat(500));
      const active2 = await fx.sn.usage('work');
      assert.equal(active2.size, active1.size + 500, 'an active snapshot is measured afresh');

      await fx.sn.commit('layer', 'work');
      const first = await fx.sn.usage('layer');
      assert.equal(first.size, active2.size);
      const row = fx.db.prepare("SELECT size, inodes FROM snapshots WHERE key = 'layer'").get() as {
        size: number;
        inodes: number;
      };
      assert.deepEqual(row, { size: first.size, inodes: first.inodes }, 'kept in the row');

      // Written behind the snapshotter's back: a kept figure is not a walk.
      fs.writeFileSync(path.join(target.dir, 'c'), 'z'.repeat(700));
      const sn2 = await fx.reopen();
      assert.deepEqual(await sn2.usage('layer'), first, 'after a restart the kept figure answers');
    } finally {
      await fx.close();
    }
  });
}

test('overlay2: a usage handed to commit is kept as the committed figure, with no walk', async () => {
  const fx = await makeFixture('overlay2');
  try {
    await fx.sn.prepare('work');
    const target = await fx.sn.applyTarget('work');
    fs.writeFileSync(path.join(target.dir, 'a'), 'x'.repeat(1000));
    // A figure no walk of these files would give: only the one handed over can answer it.
    await fx.sn.commit('layer', 'work', undefined, undefined, { size: 4242, inodes: 7 });
    assert.deepEqual(await fx.sn.usage('layer'), { size: 4242, inodes: 7 });
    const row = fx.db.prepare("SELECT size, inodes FROM snapshots WHERE key = 'layer'").get();
    assert.deepEqual(row, { size: 4242, inodes: 7 });
    // Without one, the commit leaves it to the first walk, as before.
    await fx.sn.prepare('work2');
    await fx.sn.commit('layer2', 'work2');
    assert.deepEqual(fx.db.prepare("SELECT size, inodes FROM snapshots WHERE key = 'layer2'").get(), {
      size: null,
      inodes: null,
    });
    assert.deepEqual(await fx.sn.usage('layer2'), { size: 0, inodes: 1 });
  } finally {
    await fx.close();
  }
});
