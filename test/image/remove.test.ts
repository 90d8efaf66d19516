import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { loadImages } from '../../src/image/load.js';
import { removeImage } from '../../src/image/remove.js';
import { dockerArchive } from './fixture-archive.js';
import { openStore, removeStoreDir } from './store-helper.js';

test('removing a tag prunes untagged parents, stopping quietly at one that still has another child', async () => {
  const t = await openStore();
  try {
    const base = await dockerArchive({ tag: 'base:1' });
    await loadImages(t.store, Readable.from([base.tar]), { stream: () => {}, progress: () => {} });
    // As a build leaves it: an untagged intermediate image with two tagged children.
    const mid = await t.store.create({ parentId: base.id, config: { Cmd: ['a'] }, history: { created_by: 'mid' } });
    const x = await t.store.create({
      parentId: mid.id,
      config: { Cmd: ['x'] },
      history: { created_by: 'x' },
      tag: 'x:1',
    });
    const y = await t.store.create({
      parentId: mid.id,
      config: { Cmd: ['y'] },
      history: { created_by: 'y' },
      tag: 'y:1',
    });
    const opts = { force: false, noprune: false, isRunning: () => false };

    const first = await removeImage(t.store, 'x:1', opts);
    assert.deepEqual(first, [{ Untagged: 'x:1' }, { Deleted: x.id }]);
    assert.ok(t.store.rows.get(mid.id), 'the intermediate still has a child and stays');

    const second = await removeImage(t.store, 'y:1', opts);
    assert.deepEqual(second, [{ Untagged: 'y:1' }, { Deleted: y.id }, { Deleted: mid.id }]);
    assert.ok(t.store.rows.get(base.id), 'a tagged parent is never pruned');
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('the parsed config of a removed image is not kept', async () => {
  const t = await openStore();
  try {
    const base = await dockerArchive({ tag: 'base:1' });
    await loadImages(t.store, Readable.from([base.tar]), { stream: () => {}, progress: () => {} });
    await t.store.resolve('base:1');
    const before = t.store.configsKept;
    assert.equal(before, 1);
    const opts = { force: false, noprune: false, isRunning: () => false };
    for (let i = 0; i < 5; i++) {
      const c = await t.store.create({ parentId: base.id, config: { Cmd: [`${i}`] }, history: {}, tag: `c:${i}` });
      await t.store.resolve(c.id); // parses its config
      await removeImage(t.store, `c:${i}`, opts);
    }
    assert.equal(t.store.configsKept, before, 'five images committed and removed leave no config behind');
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
