// Layer apply on a worker thread (apply-thread.ts): the unpacking does not need the main
// thread, bytes arrive intact whatever their chunking, error kinds survive the thread
// boundary, and a source that fails is the error reported, after which nothing more is written.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { applyLayer, applyLayerFile } from '../../src/archive/index.js';
import { endIdleWorkers } from '../../src/archive/apply-thread.js';
import { InvalidParameter } from '../../src/errors.js';
import { makeTar, tempDir } from './helpers.js';

const files = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `d${i % 7}/f${i}`, content: `file ${i} `.repeat(1 + (i % 300)) }));

test('the unpacking goes on while the main thread is blocked', async () => {
  const t = tempDir();
  const dir = t.path;
  // The marker comes last, after many files: on the main thread it could not be written yet
  // when the source has handed over its one chunk.
  const tar = await makeTar([...files(500), { name: 'marker', content: 'x' }]);
  const input = Readable.from([tar]);
  const applied = applyLayer(input, dir, { whiteouts: 'naive', sync: false });
  await new Promise((resolve) => input.once('end', resolve)); // every byte has been handed over
  // Blocks this thread (no event loop turn) while polling: only another thread can write it.
  const wait = new Int32Array(new SharedArrayBuffer(4));
  let seen = false;
  for (let i = 0; i < 3000 && !seen; i++) {
    seen = existsSync(join(dir, 'marker'));
    if (!seen) Atomics.wait(wait, 0, 0, 10);
  }
  assert.ok(seen, 'the file appeared while the main thread was blocked');
  await applied;
  t.cleanup();
});

test('bytes arrive intact in any chunking: same diffID, same files', async () => {
  const tar = await makeTar(files(400));
  const digest = 'sha256:' + createHash('sha256').update(tar).digest('hex');
  // Odd-sized chunks: batches straddle tar headers and file data.
  const chunks: Buffer[] = [];
  for (let off = 0; off < tar.length; off += 4093) chunks.push(tar.subarray(off, off + 4093));
  for (const input of [Readable.from([tar]), Readable.from(chunks)]) {
    const t = tempDir();
    const dir = t.path;
    const res = await applyLayer(input, dir, { whiteouts: 'naive', sync: false });
    assert.equal(res.diffID, digest);
    assert.equal(res.tarSize, tar.length);
    assert.equal(readFileSync(join(dir, 'd3/f10'), 'utf8'), 'file 10 '.repeat(11));
    assert.equal(readdirSync(join(dir, 'd6')).length, 57);
    t.cleanup();
  }
});

/**
 * A tar of several MiB: small files, `n` big ones of random bytes (a batch filled again before
 * every thread was done with it shows as a wrong file, digest or copy) and a last small file;
 * with its diffID and its bytes in odd-sized chunks.
 */
async function largeTar(n: number, base: number, step: number) {
  const big = Array.from({ length: n }, (_, i) => ({ name: `big/b${i}`, content: randomBytes(base + i * step) }));
  const tar = await makeTar([...files(200), ...big, { name: 'last', content: 'end' }]);
  assert.ok(tar.length > 8 << 20);
  const digest = 'sha256:' + createHash('sha256').update(tar).digest('hex');
  const chunks: Buffer[] = [];
  for (let off = 0; off < tar.length; off += 65521) chunks.push(tar.subarray(off, off + 65521));
  /** Asserts every big file and the last one arrived whole under `dir`. */
  const arrived = (dir: string, how: string) => {
    for (const b of big) assert.ok(readFileSync(join(dir, b.name)).equals(b.content), `${how}: ${b.name}`);
    assert.equal(readFileSync(join(dir, 'last'), 'utf8'), 'end', `${how}: last`);
  };
  return { tar, digest, chunks, arrived };
}

test('a plain tar of several MiB is hashed beside the unpacking: right diffID, size and files in any chunking, gzip or not', async () => {
  const { tar, digest, chunks, arrived } = await largeTar(6, 1_500_000, 4099);
  const inputs = { whole: [tar], chunks, gzip: [gzipSync(tar)] };
  for (const [how, parts] of Object.entries(inputs)) {
    const t = tempDir();
    const res = await applyLayer(Readable.from(parts), t.path, { whiteouts: 'naive', sync: false });
    assert.equal(res.diffID, digest, `${how}: diffID`);
    assert.equal(res.tarSize, tar.length, `${how}: size`);
    arrived(t.path, how);
    t.cleanup();
  }
});

test('a tar of several MiB hashed by no one, or as it is staged, arrives whole: batches are filled again only once applied', async () => {
  const { tar, digest, chunks, arrived } = await largeTar(5, 1_700_000, 8191);
  for (const [how, parts] of Object.entries({ plain: chunks, gzip: [gzipSync(tar)] })) {
    const t = tempDir();
    const unhashed = await applyLayer(Readable.from(parts), t.path, { whiteouts: 'naive', sync: false, digest: false });
    assert.equal(unhashed.diffID, '', `${how}: nothing hashed`);
    arrived(t.path, how);
    const s = tempDir();
    const stageTo = join(s.path, 'staged.tar');
    const target = join(s.path, 'root');
    mkdirSync(target);
    const staged = await applyLayer(Readable.from(parts), target, { whiteouts: 'naive', sync: false, stageTo });
    assert.equal(staged.diffID, digest, `${how}: hashed as staged`);
    assert.ok(readFileSync(stageTo).equals(tar), `${how}: the staged copy is the tar`);
    arrived(target, `${how}, staged`);
    t.cleanup();
    s.cleanup();
  }
});

test('a source that fails while a large plain tar is hashed beside the unpacking is the error reported', async () => {
  const t = tempDir();
  const tar = await makeTar([{ name: 'big', content: randomBytes(6 << 20) }]);
  async function* failing() {
    yield tar.subarray(0, 3 << 20);
    throw new Error('the registry went away');
  }
  await assert.rejects(applyLayer(Readable.from(failing()), t.path, { whiteouts: 'naive', sync: false }), {
    message: 'the registry went away',
  });
  t.cleanup();
});

test("the writer's InvalidParameter stays one across the thread", async () => {
  const t = tempDir();
  const dir = t.path;
  const tar = await makeTar([
    { name: 'up', type: 'symlink', linkname: '/' },
    { name: 'up/escape', content: 'x' },
  ]);
  await assert.rejects(applyLayer(Readable.from([tar]), dir, { whiteouts: 'naive', sync: false }), (err: unknown) => {
    assert.ok(err instanceof InvalidParameter, `an InvalidParameter, not ${(err as Error).name}`);
    assert.match((err as Error).message, /escape|outside/);
    return true;
  });
  t.cleanup();
});

test('a source that fails is the error reported, and nothing is written after it', async () => {
  const t = tempDir();
  const dir = t.path;
  const tar = await makeTar(files(3000));
  const cut = Math.floor(tar.length / 2);
  async function* failing() {
    for (let off = 0; off < cut; off += 65536) yield tar.subarray(off, Math.min(cut, off + 65536));
    throw new InvalidParameter('filesystem layer verification failed for digest sha256:0000');
  }
  await assert.rejects(applyLayer(Readable.from(failing()), dir, { whiteouts: 'naive', sync: false }), {
    message: 'filesystem layer verification failed for digest sha256:0000',
  });
  const count = () => readdirSync(dir).reduce((n, d) => n + readdirSync(join(dir, d)).length, 0);
  const before = count();
  assert.ok(before < 3000, 'the apply stopped at the failure');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(count(), before, 'no file written after the rejection');
  t.cleanup();
});

test('a layer in a file is read by the unpacking thread itself', async () => {
  const t = tempDir();
  const src = tempDir();
  const dir = t.path;
  const tarFile = join(src.path, 'layer.tar');
  writeFileSync(tarFile, await makeTar([...files(500), { name: 'marker', content: 'x' }]));
  const applied = applyLayerFile(tarFile, dir, { whiteouts: 'naive', sync: false, digest: false });
  // The main thread is blocked from the start: if it had to read the file and hand the bytes
  // over, nothing could be written meanwhile.
  const wait = new Int32Array(new SharedArrayBuffer(4));
  let seen = false;
  for (let i = 0; i < 3000 && !seen; i++) {
    seen = existsSync(join(dir, 'marker'));
    if (!seen) Atomics.wait(wait, 0, 0, 10);
  }
  assert.ok(seen, 'the file appeared while the main thread was blocked');
  const res = await applied;
  assert.equal(res.diffID, '');
  assert.equal(readFileSync(join(dir, 'd3/f10'), 'utf8'), 'file 10 '.repeat(11));
  assert.equal(readdirSync(join(dir, 'd6')).length, 71);
  t.cleanup();
  src.cleanup();
});

test('a layer in a file: same diffID and errors as from a stream', async () => {
  const src = tempDir();
  const tar = await makeTar(files(300));
  const tarFile = join(src.path, 'layer.tar');
  writeFileSync(tarFile, tar);
  const t = tempDir();
  const res = await applyLayerFile(tarFile, t.path, { whiteouts: 'naive', sync: false });
  assert.equal(res.diffID, 'sha256:' + createHash('sha256').update(tar).digest('hex'));
  assert.equal(res.tarSize, tar.length);
  t.cleanup();
  const bad = join(src.path, 'bad.tar');
  writeFileSync(
    bad,
    await makeTar([
      { name: 'up', type: 'symlink', linkname: '/' },
      { name: 'up/escape', content: 'x' },
    ]),
  );
  const t2 = tempDir();
  await assert.rejects(applyLayerFile(bad, t2.path, { whiteouts: 'naive', sync: false }), (err: unknown) => {
    assert.ok(err instanceof InvalidParameter, `an InvalidParameter, not ${(err as Error).name}`);
    return true;
  });
  await assert.rejects(applyLayerFile(join(src.path, 'missing.tar'), t2.path, { whiteouts: 'naive', sync: false }), {
    code: 'ENOENT',
  });
  t2.cleanup();
  src.cleanup();
});

test('a gzip layer applied from its file or its stream keeps the uncompressed tar, byte for byte, and its diffID', async () => {
  const src = tempDir();
  // Zero blocks after the trailer, as some tools write them: they are part of the diffID.
  const tar = Buffer.concat([await makeTar(files(300)), Buffer.alloc(8192)]);
  const diffID = 'sha256:' + createHash('sha256').update(tar).digest('hex');
  const gz = join(src.path, 'layer.tar.gz');
  writeFileSync(gz, gzipSync(tar));
  const seen: number[] = [];
  for (const from of ['file', 'stream'] as const) {
    const t = tempDir();
    const stage = join(src.path, `staged-${from}`);
    writeFileSync(stage, '');
    const opts = { whiteouts: 'naive' as const, sync: false, digest: false, stageTo: stage };
    const res =
      from === 'file'
        ? await applyLayerFile(gz, t.path, opts, (n) => seen.push(n))
        : await applyLayer(Readable.from([readFileSync(gz)]), t.path, opts);
    assert.equal(res.diffID, diffID, `${from}: the diffID is the uncompressed stream's, padding included`);
    assert.equal(res.tarSize, tar.length);
    assert.ok(readFileSync(stage).equals(tar), `${from}: the staged copy is the uncompressed tar`);
    assert.equal(readFileSync(join(t.path, 'd3/f10'), 'utf8'), 'file 10 '.repeat(11));
    t.cleanup();
  }
  assert.equal(seen.at(-1), readFileSync(gz).length, 'progress ends at the whole file read');
  src.cleanup();
});

test('the idle unpacking threads end when the daemon gives its memory back', async () => {
  const threads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
  const t = tempDir();
  await applyLayer(Readable.from([await makeTar(files(20))]), t.path, { whiteouts: 'naive', sync: false });
  t.cleanup();
  const withIdle = threads();
  await endIdleWorkers();
  const after = threads();
  assert.ok(after < withIdle, `the worker kept after the apply has stopped (${withIdle} threads, then ${after})`);
  await endIdleWorkers();
  assert.equal(threads(), after, 'none left to end');
});
