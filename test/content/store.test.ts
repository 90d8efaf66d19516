import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ContentStore } from '../../src/content/store.js';
import { sha256 } from '../../src/image/digest.js';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'strata-content-'));
}

test('ingest verifies, stores read-only under the digest, and reads back', async () => {
  const dir = tmp();
  try {
    const cs = new ContentStore(dir);
    const data = Buffer.from('hello blob');
    const info = await cs.ingest(Readable.from([data.subarray(0, 3), data.subarray(3)]), sha256(data));
    assert.deepEqual(info, { digest: sha256(data), size: data.length });
    assert.ok(cs.has(info.digest));
    assert.equal(fs.statSync(cs.blobPath(info.digest)).mode & 0o777, 0o400);
    assert.deepEqual(await cs.readAll(info.digest), data);
    assert.deepEqual(fs.readdirSync(cs.ingestDir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a digest mismatch leaves neither blob nor ingest behind', async () => {
  const dir = tmp();
  try {
    const cs = new ContentStore(dir);
    await assert.rejects(cs.putBuffer(Buffer.from('x'), sha256('y')), /unexpected digest/);
    assert.deepEqual(await cs.walk(), []);
    assert.deepEqual(fs.readdirSync(cs.ingestDir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sweep removes interrupted ingests and blobs nothing wants', async () => {
  const dir = tmp();
  try {
    const cs = new ContentStore(dir);
    const keep = await cs.putBuffer(Buffer.from('keep'));
    const drop = await cs.putBuffer(Buffer.from('drop'));
    const w = await cs.writer();
    await w.write(Buffer.from('half'));
    const removed = await cs.sweep((d) => d === keep.digest);
    assert.deepEqual(removed, [drop.digest]);
    assert.ok(cs.has(keep.digest));
    assert.ok(!cs.has(drop.digest));
    assert.deepEqual(fs.readdirSync(cs.ingestDir), []);
    await w.abort();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid digests are refused before touching the filesystem', () => {
  const dir = tmp();
  try {
    const cs = new ContentStore(dir);
    assert.throws(() => cs.blobPath('sha256:../../etc/passwd'), /invalid digest/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an ingest filled by another writer is committed under the digest it reports, or left nowhere', async () => {
  const dir = tmp();
  try {
    const cs = new ContentStore(dir);
    const data = Buffer.from('uncompressed layer bytes');
    const w = await cs.externalWriter();
    fs.writeFileSync(w.path, data);
    await w.commit(sha256(data));
    assert.deepEqual(await cs.readAll(sha256(data)), data);
    assert.equal(fs.statSync(cs.blobPath(sha256(data))).mode & 0o777, 0o400);
    assert.deepEqual(fs.readdirSync(cs.ingestDir), []);
    const gone = await cs.externalWriter();
    fs.writeFileSync(gone.path, 'half a layer');
    await gone.abort();
    assert.equal((await cs.walk()).length, 1);
    assert.deepEqual(fs.readdirSync(cs.ingestDir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
