// docker save of Docker 20.10 writes each layer as <v1 id>/{json,layer.tar}, directories sorted
// by v1 id rather than in layer order, each json naming its parent's v1 id. A load extracts each
// layer once its parents are there or on their way (known by the digest of the staged bytes,
// whatever the order): none is extracted twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { loadImages } from '../../src/image/load.js';
import { layeredConfig, makeTar, sha256, type TarEntry } from './fixture-archive.js';
import { openStore, removeStoreDir } from './store-helper.js';

const BIG = (1 << 20) + 4096;

test('v1 layer directories out of layer order: each layer is extracted once', async () => {
  const t = await openStore();
  try {
    const layers = [
      await makeTar([{ name: 'one', data: randomBytes(BIG) }]),
      await makeTar([{ name: 'two', data: randomBytes(BIG) }]),
      await makeTar([{ name: 'three', data: randomBytes(BIG) }]),
    ];
    const diffIDs = layers.map((l) => sha256(l));
    const config = layeredConfig(diffIDs);
    const id = sha256(config);
    // Sorted by v1 id, the top layer comes first, then the base, then the middle one.
    const v1 = ['b'.repeat(64), 'c'.repeat(64), 'a'.repeat(64)];
    const entries: TarEntry[] = [{ name: `${id.slice(7)}.json`, data: config }];
    for (const i of [2, 0, 1]) {
      const json = i === 0 ? { id: v1[i] } : { id: v1[i], parent: v1[i - 1] };
      entries.push({ name: `${v1[i]}/json`, data: JSON.stringify(json) });
      entries.push({ name: `${v1[i]}/layer.tar`, data: layers[i]! });
    }
    entries.push({
      name: 'manifest.json',
      data: JSON.stringify([
        { Config: `${id.slice(7)}.json`, RepoTags: ['v1:1'], Layers: v1.map((v) => `${v}/layer.tar`) },
      ]),
    });
    let prepares = 0;
    const orig = t.snapshotter.prepare.bind(t.snapshotter);
    t.snapshotter.prepare = (key, parent, labels) => {
      prepares++;
      return orig(key, parent, labels);
    };
    await loadImages(t.store, Readable.from([await makeTar(entries)]), { stream: () => {}, progress: () => {} });
    assert.equal(prepares, 3, 'one extraction per layer, none wasted on a wrong guess');
    assert.equal((await t.store.resolve('v1:1')).id, id);
    const c = await t.census();
    assert.equal(c.layers.length, 3);
    assert.ok(!c.snapshots.some((s) => s.startsWith('extract-')));
    assert.equal(t.store.layers.pending.size, 0);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
