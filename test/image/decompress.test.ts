import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import {
  decompressedChunks,
  decompressStream,
  detectCompression,
  eachDecompressedChunk,
} from '../../src/image/decompress.js';

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

/** What eachDecompressedChunk hands over, chunk by chunk. */
async function each(input: Readable, onChunk?: (c: Buffer) => void | Promise<void>): Promise<Buffer[]> {
  const got: Buffer[] = [];
  await eachDecompressedChunk(input, (c) => {
    got.push(c);
    return onChunk?.(c);
  });
  return got;
}

test('each chunk: plain, gzip and zstd give the same bytes; a plain stream hands over its own chunks', async () => {
  const data = Buffer.alloc(300_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13) % 241;
  const zstd = (require('zstd-napi') as { compress: (b: Buffer) => Buffer }).compress(data);
  for (const [name, input] of [
    ['plain', data],
    ['gzip', zlib.gzipSync(data)],
    ['zstd', zstd],
  ] as const) {
    // The magic number itself split over three chunks; an empty chunk on the way.
    const chunks = [
      input.subarray(0, 1),
      input.subarray(1, 2),
      Buffer.alloc(0),
      input.subarray(2, 100),
      input.subarray(100),
    ];
    assert.deepEqual(Buffer.concat(await each(Readable.from(chunks))), data, name);
  }
  const parts = [data.subarray(0, 10), data.subarray(10, 70_000), data.subarray(70_000)];
  const got = await each(Readable.from(parts));
  assert.equal(got.length, 3);
  got.forEach((c, i) => assert.equal(c.buffer, parts[i]!.buffer, 'no copy'));
});

test('each chunk: a consumer that waits gets every chunk in order, one at a time, and holds the input meanwhile', async () => {
  const data = Buffer.alloc(200_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 3) % 239;
  for (const [name, input] of [
    ['plain', data],
    ['gzip', zlib.gzipSync(data)],
  ] as const) {
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let off = 0; off < input.length; off += 1000) {
          pulled++;
          yield input.subarray(off, off + 1000);
        }
      })(),
      { highWaterMark: 1 },
    );
    let inside = 0;
    let maxPulledAhead = 0;
    let delivered = 0;
    const got = await each(source, async (c) => {
      assert.equal(inside++, 0, 'never two chunks at once');
      delivered += c.length;
      await new Promise((resolve) => setTimeout(resolve, 1));
      maxPulledAhead = Math.max(maxPulledAhead, pulled * 1000 - delivered);
      inside--;
    });
    assert.deepEqual(Buffer.concat(got), data, name);
    // The source is read only as far as its stream's small buffers ahead of the consumer.
    if (name === 'plain') assert.ok(maxPulledAhead < 64_000, `read ${maxPulledAhead} bytes ahead`);
  }
});

test("each chunk: short and empty inputs pass through; corrupt gzip, bzip2, the input's and the consumer's failures end the input", async () => {
  assert.deepEqual(Buffer.concat(await each(Readable.from([Buffer.from('ab')]))), Buffer.from('ab'));
  assert.deepEqual(await each(Readable.from([])), []);
  const bad = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08]), Buffer.alloc(50, 1)]);
  await assert.rejects(each(Readable.from([bad])));
  await assert.rejects(each(Readable.from([Buffer.from('BZh91AY&SY')])), /bzip2/);

  const chunks = () => [Buffer.alloc(100, 1), Buffer.alloc(100, 2), Buffer.alloc(100, 3)];
  const thrown = Readable.from(chunks());
  await assert.rejects(
    each(thrown, (c) => {
      if (c[0] === 2) throw new Error('consumer failed');
    }),
    /consumer failed/,
  );
  assert.ok(thrown.destroyed, 'the input is ended when its consumer fails');
  const rejected = Readable.from(chunks());
  await assert.rejects(
    each(rejected, (c) => (c[0] === 1 ? Promise.reject(new Error('write failed')) : undefined)),
    /write failed/,
  );
  assert.ok(rejected.destroyed);

  const broken = new Readable({ read() {} });
  broken.push(Buffer.alloc(100, 1));
  setTimeout(() => broken.destroy(new Error('connection reset')), 10);
  await assert.rejects(each(broken), /connection reset/);
  const closed = new Readable({ read() {} });
  closed.push(Buffer.alloc(100, 1));
  setTimeout(() => closed.destroy(), 10);
  await assert.rejects(each(closed), /Premature close/);

  // Destroyed before it is read: no event comes any more, and its failure is still the answer.
  const gone = new Readable({ read() {} });
  gone.on('error', () => {});
  gone.destroy(new Error('cut off'));
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(each(gone), /cut off/);

  const whole = Readable.from([Buffer.alloc(100, 1)]);
  await each(whole);
  assert.ok(whole.readableEnded);
});

test('each chunk: an input done with before the call (destroyed, or failed without being destroyed) fails it at once', async () => {
  const within = <T>(p: Promise<T>) =>
    Promise.race([
      p,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('still pending after 3 s')), 3000).unref()),
    ]);
  const closed = new Readable({ read() {} });
  closed.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(within(each(closed)), /Premature close/);
  // A source that does not destroy itself on failure: its 'error' is out, and no 'close' follows.
  const failed = new Readable({
    autoDestroy: false,
    read() {
      throw new Error('read failed');
    },
  });
  failed.on('error', () => {});
  failed.read(0);
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(failed.errored && !failed.destroyed);
  await assert.rejects(within(each(failed)), /read failed/);
});
