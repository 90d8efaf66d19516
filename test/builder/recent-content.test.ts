// FileDigest reuses a kept file's digest only when every byte is equal, whatever the chunking;
// RecentContent keeps within its budget and lets go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FileDigest, RecentContent, type KnownFile } from '../../src/builder/recent-content.js';

const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) % 251));
const sha = (b: Buffer, h = header) => createHash('sha256').update(h).update(b).digest('hex');

/** Splits `b` into chunks of the given sizes (the last takes the rest). */
function chunked(b: Buffer, ...sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (const s of sizes) {
    out.push(b.subarray(off, off + s));
    off += s;
  }
  if (off < b.length) out.push(b.subarray(off));
  return out;
}

// A digest that is not the bytes' own shows when the kept one was reused.
const header = Buffer.from('namea.txtmode420');
const known = (digest = 'kept-digest'): KnownFile => ({
  header,
  size: bytes.length,
  chunks: chunked(bytes, 100, 400),
  digest,
});

function digestOf(k: KnownFile | undefined, chunks: Buffer[], h = header): string {
  const d = new FileDigest(
    k,
    h,
    chunks.reduce((n, c) => n + c.length, 0),
  );
  for (const c of chunks) d.update(c);
  return d.digest();
}

test('equal bytes reuse the kept digest, however either side is chunked', () => {
  assert.equal(digestOf(known(), [bytes]), 'kept-digest');
  assert.equal(digestOf(known(), chunked(bytes, 1, 99, 350, 50, 7)), 'kept-digest');
  assert.equal(digestOf(known(), chunked(bytes, 600)), 'kept-digest');
});

test('a difference anywhere hashes the bytes that arrived', () => {
  for (const at of [0, 99, 100, 499, 500, 999]) {
    const other = Buffer.from(bytes);
    other[at] ^= 0xff;
    assert.equal(digestOf(known(), chunked(other, 250, 250, 250)), sha(other), `byte ${at}`);
    assert.equal(digestOf(known(), [other]), sha(other), `byte ${at}, one chunk`);
  }
});

test('another size, another header or nothing kept: header and bytes are hashed', () => {
  const shorter = bytes.subarray(0, 999);
  assert.equal(digestOf(known(), [shorter]), sha(shorter));
  const other = Buffer.from('namea.txtmode384');
  assert.equal(digestOf(known(), [bytes], other), sha(bytes, other));
  assert.equal(digestOf(undefined, chunked(bytes, 10)), sha(bytes));
});

test('RecentContent keeps the newest files within its budget and clears', () => {
  const r = new RecentContent(2500, 60_000);
  const file = (n: number): KnownFile => ({ header, size: 1000, chunks: [bytes], digest: String(n) });
  r.remember('a', file(1));
  r.remember('b', file(2));
  r.remember('a', file(3)); // replaces, and becomes the newest
  assert.equal(r.heldBytes, 2000);
  r.remember('c', file(4)); // over budget: the oldest (b) goes
  assert.equal(r.get('b'), undefined);
  assert.equal(r.get('a')?.digest, '3');
  assert.equal(r.get('c')?.digest, '4');
  assert.equal(r.heldBytes, 2000);
  r.remember('huge', { header, size: 3000, chunks: [], digest: 'x' });
  assert.equal(r.get('huge'), undefined);
  r.clear();
  assert.equal(r.heldBytes, 0);
  assert.equal(r.get('a'), undefined);
});
