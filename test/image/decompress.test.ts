import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { decompressedChunks, decompressStream, detectCompression } from '../../src/image/decompress.js';

const require = createRequire(import.meta.url);

async function all(r: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('plain, gzip and zstd layers come out as the same uncompressed bytes', async () => {
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
  const zstd = (require('zstd-napi') as { compress: (b: Buffer) => Buffer }).compress(data);
  for (const [name, input] of [
    ['plain', data],
    ['gzip', zlib.gzipSync(data)],
    ['zstd', zstd],
  ] as const) {
    const chunks = [input.subarray(0, 2), input.subarray(2, 5000), input.subarray(5000)];
    assert.deepEqual(await all(decompressStream(Readable.from(chunks))), data, name);
  }
  assert.equal(detectCompression(zstd), 'zstd');
});

test('inputs shorter than any magic number pass through; corrupt gzip fails', async () => {
  assert.deepEqual(await all(decompressStream(Readable.from([Buffer.from('ab')]))), Buffer.from('ab'));
  assert.deepEqual(await all(decompressStream(Readable.from([]))), Buffer.alloc(0));
  const bad = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08]), Buffer.alloc(50, 1)]);
  await assert.rejects(all(decompressStream(Readable.from([bad]))));
});

test('chunks: plain, gzip and zstd give the same bytes; a plain stream hands over its own chunks', async () => {
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 11) % 253;
  const zstd = (require('zstd-napi') as { compress: (b: Buffer) => Buffer }).compress(data);
  for (const [name, input] of [
    ['plain', data],
    ['gzip', zlib.gzipSync(data)],
    ['zstd', zstd],
  ] as const) {
    const chunks = [input.subarray(0, 2), input.subarray(2, 5000), input.subarray(5000)];
    assert.deepEqual(await all(decompressedChunks(Readable.from(chunks))), data, name);
  }
  const parts = [data.subarray(0, 10), data.subarray(10, 70_000), data.subarray(70_000)];
  const got: Buffer[] = [];
  for await (const c of decompressedChunks(Readable.from(parts))) got.push(c);
  assert.equal(got.length, 3);
  got.forEach((c, i) => assert.equal(c.buffer, parts[i]!.buffer, 'no copy'));
});

test('chunks: short and empty inputs pass through; corrupt gzip and bzip2 fail; a stop ends the input', async () => {
  assert.deepEqual(await all(decompressedChunks(Readable.from([Buffer.from('ab')]))), Buffer.from('ab'));
  assert.deepEqual(await all(decompressedChunks(Readable.from([]))), Buffer.alloc(0));
  const bad = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08]), Buffer.alloc(50, 1)]);
  await assert.rejects(all(decompressedChunks(Readable.from([bad]))));
  await assert.rejects(all(decompressedChunks(Readable.from([Buffer.from('BZh91AY&SY')]))), /bzip2/);
  const input = Readable.from([Buffer.alloc(100, 1), Buffer.alloc(100, 2), Buffer.alloc(100, 3)]);
  for await (const c of decompressedChunks(input)) {
    assert.equal(c[0], 1);
    break;
  }
  assert.ok(input.destroyed, 'the input is ended when its reader stops early');
  const whole = Readable.from([Buffer.alloc(100, 1)]);
  await all(decompressedChunks(whole));
  assert.ok(whole.readableEnded);
});
