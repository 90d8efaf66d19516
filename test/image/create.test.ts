import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { loadImages } from '../../src/image/load.js';
import { dockerArchive, makeTar, sha256 } from './fixture-archive.js';
import { openStore, removeStoreDir } from './store-helper.js';
import { EMPTY_LAYER_DIFF_ID } from '../../src/image/digest.js';

async function collectTar(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('create adds a layer on a parent: diff_ids, history, parent, tag; the layer tar is kept byte for byte', async () => {
  const t = await openStore();
  try {
    const base = await dockerArchive({ tag: 'base:1' });
    await loadImages(t.store, Readable.from([base.tar]), { stream: () => {}, progress: () => {} });
    const layer = await makeTar([{ name: 'added.txt', data: 'added\n' }]);
    const img = await t.store.create({
      parentId: 'base:1',
      layer: Readable.from([zlib.gzipSync(layer)]),
      config: { Cmd: ['true'], Env: ['A=1'] },
      history: { created_by: '/bin/sh -c touch added.txt', comment: 'made here' },
      extra: { container: 'c0ffee', author: 'me' },
      tag: 'child:1',
    });
    assert.equal(img.parent, base.id);
    assert.deepEqual(img.repoTags, ['child:1']);
    assert.deepEqual(img.config.rootfs.diff_ids, [...base.diffIDs, sha256(layer)]);
    assert.equal(img.config.history!.length, 5);
    assert.equal(img.config.history![4]!.created_by, '/bin/sh -c touch added.txt');
    assert.equal(img.config.history![4]!.empty_layer, undefined);
    assert.equal(img.config.author, 'me');
    assert.equal(img.id, sha256(t.store.rows.get(img.id)!.config), 'ID is the digest of the stored bytes');
    assert.deepEqual(await collectTar(t.store.readLayer(sha256(layer))), layer);
    assert.equal(img.size, 31 + 6);
    assert.deepEqual(t.store.rows.children(base.id), [img.id]);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('an empty layer adds no diffID and marks the history row empty_layer', async () => {
  const t = await openStore();
  try {
    const base = await dockerArchive({ tag: 'base:1' });
    await loadImages(t.store, Readable.from([base.tar]), { stream: () => {}, progress: () => {} });
    const before = (await t.census()).snapshots.length;
    const img = await t.store.create({
      parentId: base.id,
      layer: Readable.from([Buffer.alloc(1024)]),
      config: { Cmd: ['sh'] },
      history: { created_by: '/bin/sh -c #(nop)  CMD ["sh"]' },
    });
    assert.deepEqual(img.config.rootfs.diff_ids, base.diffIDs);
    assert.equal(img.config.history!.at(-1)!.empty_layer, true);
    assert.equal(img.topChainID, (await t.store.resolve(base.id)).topChainID);
    assert.equal((await t.census()).snapshots.length, before, 'no snapshot kept for the empty layer');
    assert.ok(!t.store.content.has(EMPTY_LAYER_DIFF_ID));
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test("resolve: full ID, short ID, sha256: prefix, name, name:tag, docker.io/library form; NotFound in Docker's words", async () => {
  const t = await openStore();
  try {
    const a = await dockerArchive({ tag: 'alpine:latest' });
    await loadImages(t.store, Readable.from([a.tar]), { stream: () => {}, progress: () => {} });
    for (const ref of [
      a.id,
      a.id.slice(7),
      a.id.slice(7, 19),
      `sha256:${a.id.slice(7, 15)}`,
      'alpine',
      'alpine:latest',
      'docker.io/library/alpine:latest',
    ]) {
      assert.equal((await t.store.resolve(ref)).id, a.id, ref);
    }
    await assert.rejects(t.store.resolve('alpine:3'), { message: 'No such image: alpine:3' });
    await assert.rejects(t.store.resolve('nope'), { message: 'No such image: nope:latest' });
    await assert.rejects(t.store.resolve('FOO'), /repository name must be lowercase/);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
