// The hashing thread (digest.ts): a thread whose digest was taken is kept for the next layer and
// hashes it from scratch; one given up is not kept; the pass-through Digester hashes as before.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { Digester, endIdleHashThreads, HashThread } from '../../src/archive/digest.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Hashes `data` on a HashThread in shared batches of `batch` bytes, each filled as the last is hashed. */
async function hashShared(data: Buffer, batch: number): Promise<string> {
  let wake: (() => void) | undefined;
  const h = new HashThread(() => wake?.());
  for (let off = 0; off < data.length; off += batch) {
    const mem = new SharedArrayBuffer(batch);
    const n = Math.min(batch, data.length - off);
    Buffer.from(mem).set(data.subarray(off, off + n));
    const hashed = new Promise<void>((resolve) => (wake = resolve));
    h.post(mem, n);
    await hashed;
  }
  return h.digest();
}

test('a hashing thread is kept after its digest and hashes the next layer from scratch', async () => {
  await endIdleHashThreads();
  const a = randomBytes(3 << 20);
  const b = randomBytes((1 << 20) + 17);
  assert.equal(await hashShared(a, 1 << 20), sha(a));
  // The same thread again (only one is idle afterwards): a digest carried over would differ.
  assert.equal(await hashShared(b, 1 << 20), sha(b));
  assert.equal(await hashShared(Buffer.alloc(0), 1), sha(Buffer.alloc(0)));
  const ended = await endIdleHashThreads();
  assert.equal((ended as unknown[]).length, 1, 'one thread served the three digests');
});

test('a hashing thread given up is ended, not kept for the next layer', async () => {
  await endIdleHashThreads();
  const h = new HashThread(() => {});
  h.post(new SharedArrayBuffer(1024), 1024);
  h.dispose();
  const ended = await endIdleHashThreads();
  assert.equal((ended as unknown[]).length, 0);
  // The next one starts a thread of its own and is right.
  const c = randomBytes(4096);
  assert.equal(await hashShared(c, 1000), sha(c));
  await endIdleHashThreads();
});

test('the Digester passes every byte through and hashes them on a kept thread', async () => {
  await endIdleHashThreads();
  const data = randomBytes((9 << 20) + 5);
  for (let round = 0; round < 2; round++) {
    const d = new Digester();
    const out: Buffer[] = [];
    const chunks = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) =>
      data.subarray(i * 65536, (i + 1) * 65536),
    );
    await pipeline(Readable.from(chunks), d, async (src: AsyncIterable<Buffer>) => {
      for await (const c of src) out.push(c);
    });
    assert.ok(Buffer.concat(out).equals(data));
    assert.equal(d.size, data.length);
    assert.equal(await d.digest(), sha(data));
  }
  assert.equal(((await endIdleHashThreads()) as unknown[]).length, 1);
});
