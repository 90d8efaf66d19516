// Staging a layer gathers the socket's small pieces into large ingest writes: the same bytes
// and digest, a write per MiB instead of one per piece.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { sha256 } from './fixture-archive.js';
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
