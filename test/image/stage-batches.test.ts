// Staging a layer gathers the socket's small pieces into large ingest writes: the same bytes
// and digest, a write per MiB instead of one per piece.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { layeredConfig, makeTar, sha256 } from './fixture-archive.js';
import { loadImages } from '../../src/image/load.js';
import { openStore, removeStoreDir } from './store-helper.js';
import type { ContentWriter } from '../../src/content/store.js';

function pieces(buf: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

test('a layer staged from 32 KiB pieces is written in 1 MiB batches, byte for byte', async () => {
  const t = await openStore();
  const { content } = t.store.layers;
  const writes: number[] = [];
  const writer = content.writer.bind(content);
  content.writer = async (): Promise<ContentWriter> => {
    const w = await writer();
    const write = w.write.bind(w);
    w.write = (chunk: Buffer) => {
      writes.push(chunk.length);
      return write(chunk);
    };
    return w;
  };
  try {
    const cases: [string, Buffer, number[]][] = [
      ['32 KiB pieces', randomBytes((4 << 20) + 1234), [32 << 10]],
      ['odd pieces across batch edges', randomBytes((3 << 20) + 7), [1, 511, 65_537, 1 << 20, (1 << 20) + 3, 4096]],
      ['a piece larger than a batch', randomBytes(5 << 20), [(2 << 20) + 1]],
      ['empty', Buffer.alloc(0), [1]],
    ];
    for (const [what, layer, sizes] of cases) {
      writes.length = 0;
      const staged = await t.store.layers.stage(Readable.from(pieces(layer, sizes)));
      assert.equal(staged.diffID, sha256(layer), what);
      assert.equal(staged.tarSize, layer.length, what);
      assert.ok(fs.readFileSync(staged.path).equals(layer), `${what}: the staged bytes`);
      assert.equal(
        writes.reduce((a, b) => a + b, 0),
        layer.length,
        what,
      );
      assert.ok(writes.length <= Math.ceil(layer.length / (1 << 20)) + 3, `${what}: ${writes.length} writes`);
      await staged.writer!.abort();
    }
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('vfs: a layer extracted while it is staged writes its staged copy in 1 MiB batches too', async () => {
  const t = await openStore(undefined, 'vfs');
  const { content } = t.store.layers;
  const writes: number[] = [];
  const writer = content.writer.bind(content);
  content.writer = async (): Promise<ContentWriter> => {
    const w = await writer();
    const write = w.write.bind(w);
    w.write = (chunk: Buffer) => {
      writes.push(chunk.length);
      return write(chunk);
    };
    return w;
  };
  let prepares = 0;
  const prepare = t.snapshotter.prepare.bind(t.snapshotter);
  t.snapshotter.prepare = (key, parent, labels) => {
    prepares++;
    return prepare(key, parent, labels);
  };
  try {
    const layer = await makeTar([{ name: 'big', data: randomBytes(3 << 20) }]);
    const diffID = sha256(layer);
    const config = layeredConfig([diffID]);
    const id = sha256(config);
    // The config first, so the layer is guessed and extracted as it arrives.
    const tar = await makeTar([
      { name: `${id.slice(7)}.json`, data: config },
      { name: `${diffID.slice(7)}/layer.tar`, data: layer },
      {
        name: 'manifest.json',
        data: JSON.stringify([
          { Config: `${id.slice(7)}.json`, RepoTags: ['b:1'], Layers: [`${diffID.slice(7)}/layer.tar`] },
        ]),
      },
    ]);
    await loadImages(t.store, Readable.from(pieces(tar, [32 << 10])), { stream: () => {}, progress: () => {} });
    assert.equal(prepares, 1, 'extracted once, while staged');
    assert.deepEqual((await t.census()).images, [id]);
    assert.ok(writes.length > 0 && writes.length <= 6, `${writes.length} writes`);
    assert.equal(
      writes.reduce((a, b) => a + b, 0),
      layer.length,
    );
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
