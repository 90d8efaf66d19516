// Layers kept as their files plus a tar-split record: the original tar comes back byte for byte
// (loaded, pulled gzip, committed), on every driver; where the files cannot give the tar back,
// the whole tar is kept instead; a tampered file fails the rebuild with the diffID error; and a
// loaded image takes about half the disk it took with a second copy of its layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { loadImages } from '../../src/image/load.js';
import { saveImages, selectImages } from '../../src/image/save.js';
import { LayerTx } from '../../src/image/layer-store.js';
import type { DriverName } from '../../src/snapshot/snapshotter.js';
import { dockerArchive, layeredConfig, sha256 } from './fixture-archive.js';
import { openStore, removeStoreDir, type TestStore } from './store-helper.js';

const mtime = new Date('2026-01-01T00:00:00Z');

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

type PackEntry = Partial<tarStream.Header> & { name: string; data?: Buffer | string };

async function pack(entries: PackEntry[], after = 0): Promise<Buffer> {
  const p = tarStream.pack();
  const out = collect(p as unknown as Readable);
  for (const { data, ...h } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      const header = Object.assign(
        { name: h.name, mode: h.type === 'directory' ? 0o755 : 0o644, mtime, uid: 0, gid: 0 },
        h,
      ) as tarStream.Header;
      if (data !== undefined) p.entry({ ...header, size: Buffer.byteLength(data) }, data, cb);
      else p.entry(header, cb);
    });
  }
  p.finalize();
  return Buffer.concat([await out, Buffer.alloc(after)]);
}

/** A layer with every kind of entry, a PAX long name, an xattr, and zeros after its trailer. */
async function richLayers(): Promise<Buffer[]> {
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
  const base = await pack([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hello', data: 'hello\n' },
    { name: 'etc/hello-link', type: 'link', linkname: 'etc/hello' },
    { name: 'link', type: 'symlink', linkname: '/etc/hello' },
    { name: 'gone', data: 'to be whited out\n' },
    { name: 'old/', type: 'directory' },
    { name: 'old/x', data: 'x' },
    { name: `${'d'.repeat(120)}/`, type: 'directory' },
    { name: long, data: randomBytes(3000) },
    { name: 'cap', data: 'with an xattr', pax: { 'SCHILY.xattr.user.note': 'v\x01\x02' } },
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660 },
    { name: 'fifo', type: 'fifo' },
    { name: 'empty', data: '' },
    { name: 'big', data: randomBytes(1 << 20) },
  ]);
  const top = await pack(
    [
      { name: '.wh.gone', data: '' },
      { name: 'old/', type: 'directory' },
      { name: 'old/.wh..wh..opq', data: '' },
      { name: 'old/y', data: 'y\n' },
      { name: 'etc/hello', data: 'hello again\n' },
    ],
    4608,
  );
  return [base, top];
}

/** A layer GNU tar writes (POSIX format: atime/ctime PAX records, long names, hard links). */
function gnuLayer(): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-gnu-'));
  try {
    fs.mkdirSync(path.join(dir, 'usr/lib/' + 'n'.repeat(110)), { recursive: true });
    fs.writeFileSync(path.join(dir, 'usr/lib/' + 'n'.repeat(110), 'data.bin'), randomBytes(70_000));
    fs.writeFileSync(path.join(dir, 'usr/a'), 'a\n');
    fs.linkSync(path.join(dir, 'usr/a'), path.join(dir, 'usr/a2'));
    fs.symlinkSync('a', path.join(dir, 'usr/sym'));
    execFileSync('mknod', [path.join(dir, 'usr/zero'), 'c', '1', '5']);
    return execFileSync('tar', ['--format=posix', '-C', dir, '-cf', '-', 'usr'], { maxBuffer: 1 << 26 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function load(t: TestStore, layers: Buffer[], tag: string, gzipIndex = -1): Promise<string[]> {
  const arc = await dockerArchive({ tag, layers, gzipIndex, config: layeredConfig2(layers.map((l) => sha256(l))) });
  await loadImages(t.store, Readable.from([arc.tar]), { stream: () => {}, progress: () => {} });
  return arc.diffIDs;
}

function layeredConfig2(diffIDs: string[]): Buffer {
  const c = JSON.parse(layeredConfig(diffIDs).toString()) as { history: unknown[] };
  c.history = diffIDs.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'layer' }));
  return Buffer.from(JSON.stringify(c));
}

/** The layer tars of a `docker save` archive, by diffID. */
async function savedLayers(t: TestStore, ref: string): Promise<Map<string, Buffer>> {
  const saved = await collect(saveImages(t.store, selectImages(t.store, [ref])));
  const out = new Map<string, Buffer>();
  const ex = tarStream.extract();
  const done = (async () => {
    for await (const e of ex) {
      const body = await collect(e as unknown as Readable);
      if (e.header.name.endsWith('/layer.tar')) out.set(`sha256:${e.header.name.slice(0, 64)}`, body);
    }
  })();
  Readable.from([saved]).pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return out;
}

const drivers: DriverName[] = ['overlay2', 'vfs', 'fuse-overlayfs'];

for (const driver of drivers) {
  test(`${driver}: loaded layers are kept as files plus a record, and save gives back their exact bytes`, async () => {
    const t = await openStore(undefined, driver);
    try {
      const layers = [...(await richLayers()), gnuLayer()];
      const diffIDs = await load(t, layers, 'rich:1', 1);
      const c = await t.census();
      assert.deepEqual(c.blobs, [], 'no second copy of any layer');
      assert.deepEqual(c.ingests, [], 'no staged copy left');
      for (const d of diffIDs) assert.ok(t.store.layers.records.has(d), `record of ${d}`);
      const saved = await savedLayers(t, 'rich:1');
      assert.equal(saved.size, layers.length);
      layers.forEach((l, i) => assert.ok(saved.get(diffIDs[i]!)?.equals(l), `layer ${i} byte for byte`));
      // Restarted (startup sweep), the records are still owned and the bytes still come back.
      const again = await t.reopen();
      try {
        for (const [i, d] of diffIDs.entries()) assert.ok((await collect(again.store.readLayer(d))).equals(layers[i]!));
      } finally {
        again.close();
      }
    } finally {
      t.close();
      removeStoreDir(t.dir);
    }
  });
}

test('a pulled gzip layer and a committed layer are recorded as they are applied', async () => {
  const t = await openStore();
  try {
    const [base, top] = await richLayers();
    const tx = new LayerTx(t.store.layers, { syncOnce: true });
    // Pull: the unpacking thread gets the compressed stream.
    const pulled = await t.store.layers.applyOffThread(null, Readable.from([zlib.gzipSync(base!)]), tx);
    // Commit / import / build: applyStream.
    const committed = await t.store.layers.applyStream(pulled.chainID, Readable.from([top!]), tx);
    await tx.persist();
    t.db.transaction(() => tx.insertRows(t.db))();
    assert.equal(pulled.diffID, sha256(base!));
    assert.equal(committed.diffID, sha256(top!));
    assert.deepEqual((await t.census()).blobs, []);
    assert.deepEqual((await t.census()).ingests, []);
    assert.ok((await collect(t.store.layers.readTar(pulled.diffID))).equals(base!));
    assert.ok((await collect(t.store.layers.readTar(committed.diffID))).equals(top!));
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

/** Layers whose files cannot give their tar back: each keeps its whole tar. */
async function unfaithful(): Promise<Record<string, Buffer>> {
  const sparseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-sparse-'));
  let sparse: Buffer;
  try {
    const f = path.join(sparseDir, 'holes');
    const fd = fs.openSync(f, 'w');
    fs.writeSync(fd, Buffer.from('data at 1 MiB'), 0, 13, 1 << 20);
    fs.ftruncateSync(fd, 4 << 20);
    fs.closeSync(fd);
    sparse = execFileSync('tar', ['--format=pax', '--sparse', '-C', sparseDir, '-cf', '-', 'holes']);
  } finally {
    fs.rmSync(sparseDir, { recursive: true, force: true });
  }
  assert.ok(sparse.includes('GNU.sparse'), 'GNU tar wrote a sparse entry');
  return {
    'a path written twice': await pack([
      { name: 'twice', data: 'first\n' },
      { name: 'twice', data: 'second, longer\n' },
    ]),
    'a sparse entry': sparse,
    'a file whited out by its own layer': await pack([
      { name: 'dir/', type: 'directory' },
      { name: 'dir/f', data: 'soon gone\n' },
      { name: 'dir/.wh.f', data: '' },
    ]),
    'a file under a path the same layer then makes a symlink': await pack([
      { name: 'd/f', data: 'in d\n' },
      { name: 'd', type: 'symlink', linkname: 'elsewhere' },
    ]),
  };
}

test('a layer whose files cannot give its tar back keeps the whole tar, and save still gives its bytes', async () => {
  const t = await openStore();
  try {
    for (const [i, [what, layer]] of Object.entries(await unfaithful()).entries()) {
      const tag = `fallback:${i}`;
      const diffIDs = await load(t, [layer], tag);
      assert.ok(t.store.content.has(diffIDs[0]!), `${what}: the whole tar is kept`);
      assert.ok(!t.store.layers.records.has(diffIDs[0]!), `${what}: no record`);
      assert.ok((await savedLayers(t, tag)).get(diffIDs[0]!)?.equals(layer), `${what}: saved byte for byte`);
    }
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

for (const driver of ['overlay2', 'vfs'] as DriverName[]) {
  test(`${driver}: a tampered file fails save and readLayer with the diffID error`, async () => {
    const t = await openStore(undefined, driver);
    try {
      const layers = await richLayers();
      const diffIDs = await load(t, layers, 'tamper:1');
      const top = t.store.layers.all().find((l) => l.diffID === diffIDs[1])!;
      const dir = (await t.snapshotter.diffSource(top.chainID)).upper;
      // Same size, other bytes: only the digest can tell.
      fs.writeFileSync(path.join(dir, 'etc/hello'), 'HELLO AGAIN\n');
      await assert.rejects(collect(t.store.readLayer(diffIDs[1]!)), /does not match its diffID/);
      await assert.rejects(
        collect(saveImages(t.store, selectImages(t.store, ['tamper:1']))),
        /does not match its diffID|premature|aborted/,
      );
      // A file of another size fails at once.
      fs.writeFileSync(path.join(dir, 'old/y'), 'longer than it was\n');
      await assert.rejects(collect(t.store.readLayer(diffIDs[1]!)), /does not match its diffID.*old\/y/);
      // The base layer is untouched and still comes back.
      assert.ok((await collect(t.store.readLayer(diffIDs[0]!))).equals(layers[0]!));
    } finally {
      t.close();
      removeStoreDir(t.dir);
    }
  });
}

test('a loaded image takes about half the disk it took with a second copy of its layers', async () => {
  const t = await openStore();
  try {
    const files = Array.from({ length: 8 }, (_, i) => ({ name: `blob${i}`, data: randomBytes(1 << 20) }));
    const layer = await pack(files);
    await load(t, [layer], 'size:1');
    const du = (p: string) => Number(execFileSync('du', ['-sB1', p], { encoding: 'utf8' }).split('\t')[0]);
    const root = du(t.dir);
    const content = du(path.join(t.dir, 'content'));
    // The files themselves (8 MiB) plus the database; the tar's 8 MiB are no longer there twice.
    assert.ok(content < 64 * 1024, `content store holds ${content} bytes`);
    assert.ok(root < 1.25 * layer.length, `data-root ${root} bytes for a ${layer.length}-byte layer`);
    assert.ok(root < 0.65 * 2 * layer.length, 'about half of files + tar');
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('startup removes tar-split records no layer names, and half-written ones', async () => {
  const t = await openStore();
  let again: TestStore | undefined;
  try {
    const layers = await richLayers();
    const diffIDs = await load(t, layers, 'sweep:1');
    const records = t.store.layers.records;
    const stray = records.path(sha256('no such layer'));
    fs.writeFileSync(stray, 'x');
    fs.writeFileSync(path.join(records.dir, '.tmp-0123456789ab'), 'half');
    again = await t.reopen();
    assert.deepEqual(
      fs.readdirSync(records.dir).sort(),
      diffIDs.map((d) => `${d.slice(7)}.gz`).sort(),
      'only the records of stored layers are left',
    );
    assert.ok((await collect(again.store.readLayer(diffIDs[1]!))).equals(layers[1]!));
  } finally {
    (again ?? t).close();
    removeStoreDir(t.dir);
  }
});

test('a record another live operation relies on outlives the rollback of the one that wrote it', async () => {
  const t = await openStore();
  try {
    const layers = t.store.layers;
    const shared = await pack([
      { name: 'shared/', type: 'directory' },
      { name: 'shared/f', data: randomBytes(4096) },
    ]);
    const base = await pack([{ name: 'base', data: 'another parent\n' }]);
    const diffID = sha256(shared);
    // One operation stores the shared layer first and writes its record.
    const first = new LayerTx(layers);
    await layers.applyStream(null, Readable.from([shared]), first);
    assert.ok(layers.records.has(diffID));
    // Another stores it on another parent: the record is there, so it drops its own copy.
    const second = new LayerTx(layers);
    const p = await layers.applyStream(null, Readable.from([base]), second);
    const top = await layers.applyStream(p.chainID, Readable.from([shared]), second);
    await second.persist();
    assert.ok(!t.store.content.has(diffID), 'the second operation kept no tar of its own');
    // The first rolls back before the second's rows are written.
    await first.rollback();
    assert.ok(layers.records.has(diffID), 'the record the second operation relies on is kept');
    await t.store.commitImage(
      { config: layeredConfig2([p.diffID, top.diffID]), tags: ['docker.io/library/survivor:1'] },
      [p, top],
      second,
    );
    const saved = await savedLayers(t, 'survivor:1');
    assert.ok(saved.get(diffID)?.equals(shared), 'save gives the shared layer byte for byte');
    assert.ok(saved.get(p.diffID)?.equals(base));

    // Both roll back: the record no one holds or names goes.
    const other = await pack([{ name: 'other', data: randomBytes(1024) }]);
    const a = new LayerTx(layers);
    await layers.applyStream(null, Readable.from([other]), a);
    const b = new LayerTx(layers);
    const q = await layers.applyStream(null, Readable.from([base]), b);
    await layers.applyStream(q.chainID, Readable.from([other]), b);
    await a.rollback();
    assert.ok(layers.records.has(sha256(other)));
    await b.rollback();
    assert.ok(!layers.records.has(sha256(other)), 'released by the last holder');
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('with a sink, an unfaithful record cuts the stream before the entry it cannot give back', async () => {
  const { TarSplitRecorder } = await import('../../src/archive/tar-split.js');
  const cases = await unfaithful();
  const whole = await pack([
    { name: 'a', data: 'a\n' },
    { name: 'b', data: 'b\n' },
  ]);
  // Ends between two entries, without its trailer.
  cases['a tar without its trailer'] = whole.subarray(0, 2048);
  // Entries before the cut, where the case says.
  const before: Record<string, number> = {
    'a path written twice': 1,
    'a file whited out by its own layer': 2,
    'a file under a path the same layer then makes a symlink': 1,
    'a tar without its trailer': 2,
  };
  for (const [what, tar] of Object.entries(cases)) {
    let cut: { record: Buffer; length: number; entries: number } | undefined;
    const spilled: Buffer[] = [];
    const rec = new TarSplitRecorder({
      async start(record, length, entries) {
        cut = { record, length, entries };
      },
      async write(chunk) {
        spilled.push(Buffer.from(chunk));
      },
    });
    const down: Buffer[] = [];
    rec.on('data', (c: Buffer) => down.push(c));
    // Odd chunks: headers arrive split across two of them.
    for (let off = 0; off < tar.length; off += 700)
      await new Promise<void>((resolve, reject) =>
        rec.write(tar.subarray(off, off + 700), (e) => (e ? reject(e) : resolve())),
      );
    await new Promise<void>((resolve) => rec.end(resolve));
    assert.ok(cut, `${what}: spilled`);
    assert.ok(rec.spilledWhole, `${what}: to the end`);
    if (before[what] !== undefined) assert.equal(cut.entries, before[what], `${what}: entries before the cut`);
    // At most part of the header at the cut, which the parser then never completes.
    const handed = Buffer.concat(down);
    assert.ok(handed.length < cut.length + 512, `${what}: no entry past the cut handed on`);
    assert.ok(handed.equals(tar.subarray(0, handed.length)), `${what}: handed on as it is`);
    assert.ok(Buffer.concat(spilled).equals(tar.subarray(cut.length)), `${what}: the rest goes to the sink as it is`);
    // The record gives the bytes before the cut: its raw items as they are, its files' bytes where they were.
    const buf = zlib.gunzipSync(cut.record);
    let off = buf.indexOf(0x0a) + 1;
    let pos = 0;
    while (off < buf.length) {
      if (buf[off] === 0x52) {
        const len = buf.readUInt32BE(off + 1);
        assert.ok(
          buf.subarray(off + 5, off + 5 + len).equals(tar.subarray(pos, pos + len)),
          `${what}: raw bytes at ${pos}`,
        );
        pos += len;
        off += 5 + len;
      } else {
        const plen = buf.readUInt16BE(off + 1);
        pos += buf.readUInt32BE(off + 3 + plen) * 2 ** 32 + buf.readUInt32BE(off + 7 + plen);
        off += 11 + plen;
      }
    }
    assert.equal(pos, cut.length, `${what}: the record ends at the cut`);
    assert.ok('unfaithful' in (await rec.result()), `${what}: no record of the whole`);
  }
});
