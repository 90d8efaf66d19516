// Layers extracted while the archive uploads (config before layers): same result as the
// two-pass path, each layer extracted once, and every doubt falls back to the two-pass path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { loadImages } from '../../src/image/load.js';
import { saveImages, selectImages } from '../../src/image/save.js';
import { removeImage } from '../../src/image/remove.js';
import { layeredConfig, makeTar, sha256, type TarEntry } from './fixture-archive.js';
import { openStore, removeStoreDir, type TestStore } from './store-helper.js';
import { BIG, bigLayers, chainIDs, countPrepares } from './speculate-fixtures.js';
import { directoryUsage } from '../../src/snapshot/usage.js';

/** A docker-archive with the config first and the layers in `order` (indexes into layers). */
async function archive(
  layers: Buffer[],
  opts: { order?: number[]; config?: Buffer; extra?: TarEntry[]; tag?: string; v1Names?: boolean } = {},
): Promise<{ tar: Buffer; id: string }> {
  const diffIDs = layers.map((l) => sha256(l));
  const config = opts.config ?? layeredConfig(diffIDs);
  const id = sha256(config);
  const entries: TarEntry[] = [{ name: `${id.slice(7)}.json`, data: config }, ...(opts.extra ?? [])];
  // Docker 20.10 names each layer's directory by a v1 ID, which is no diffID.
  const dirs = diffIDs.map((d) => (opts.v1Names ? sha256(`v1 ${d}`) : d).slice(7));
  for (const i of opts.order ?? layers.map((_, i) => i))
    entries.push({ name: `${dirs[i]}/layer.tar`, data: layers[i]! });
  const paths = dirs.map((d) => `${d}/layer.tar`);
  entries.push({
    name: 'manifest.json',
    data: JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: [opts.tag ?? 'big:1'], Layers: paths }]),
  });
  return { tar: await makeTar(entries), id };
}

async function load(t: TestStore, tar: Buffer): Promise<void> {
  await loadImages(t.store, Readable.from([tar]), { stream: () => {}, progress: () => {} });
}

async function assertLoaded(t: TestStore, layers: Buffer[], id: string, tag = 'big:1'): Promise<void> {
  const img = await t.store.resolve(tag);
  assert.equal(img.id, id);
  const chains = chainIDs(layers);
  assert.equal(img.topChainID, chains[2]);
  const c = await t.census();
  assert.deepEqual(c.layers, [...chains].sort());
  assert.deepEqual(c.snapshots, [...chains].sort(), 'only the committed layers, no extract- leftovers');
  assert.deepEqual(c.ingests, []);
  assert.equal(t.store.layers.pending.size, 0);
  for (const l of layers) {
    const chunks: Buffer[] = [];
    for await (const c of t.store.layers.readTar(sha256(l))) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), l, 'original bytes given back');
  }
  const top = await t.snapshotter.applyTarget(chains[2]!).catch(() => undefined);
  if (top?.whiteouts === 'naive') {
    // vfs: the top snapshot is the whole tree.
    assert.ok(fs.existsSync(path.join(top.dir, 'three')) && fs.existsSync(path.join(top.dir, 'two')));
    assert.ok(!fs.existsSync(path.join(top.dir, 'gone')) && !fs.existsSync(path.join(top.dir, 'etc/one')));
  }
}

test('config before layers: each layer is extracted once, with the same IDs, contents and bytes', async () => {
  const t = await openStore();
  let u: TestStore | undefined;
  try {
    const layers = await bigLayers();
    const arc = await archive(layers);
    const prepares = countPrepares(t);
    await load(t, arc.tar);
    assert.equal(prepares.n, 3, 'one extraction per layer');
    await assertLoaded(t, layers, arc.id);

    // Loading it again under another tag extracts nothing.
    await load(t, (await archive(layers, { tag: 'big:2' })).tar);
    assert.equal(prepares.n, 3);

    // Strata's own save puts the config first, so its archives load in one pass too.
    const chunks: Buffer[] = [];
    for await (const c of saveImages(t.store, selectImages(t.store, ['big:1']))) chunks.push(c as Buffer);
    u = await openStore();
    const again = countPrepares(u);
    await load(u, Buffer.concat(chunks));
    assert.equal(again.n, 3);
    await assertLoaded(u, layers, arc.id);
  } finally {
    t.close();
    removeStoreDir(t.dir);
    if (u) {
      u.close();
      removeStoreDir(u.dir);
    }
  }
});

test('layers out of order, or a large file that is no layer, fall back to the two-pass load', async () => {
  for (const extra of [undefined, [{ name: 'junk.bin', data: randomBytes(BIG) }]]) {
    const t = await openStore();
    try {
      const layers = await bigLayers();
      const arc = await archive(layers, { order: extra ? [0, 1, 2] : [1, 0, 2], extra });
      await load(t, arc.tar);
      await assertLoaded(t, layers, arc.id);
    } finally {
      t.close();
      removeStoreDir(t.dir);
    }
  }
});

test('hostile or mislabelled layers streamed after the config leave nothing behind', async () => {
  const t = await openStore();
  try {
    const layers = await bigLayers();
    const escape = await makeTar([
      { name: 'pad', data: randomBytes(BIG) },
      { name: '../../../../tmp/strata-spec-escape', data: 'pwned' },
    ]);
    const escapeLink = await makeTar([
      { name: 'pad', data: randomBytes(BIG) },
      { name: 'evil', type: 'symlink', linkname: '/tmp' },
      { name: 'evil/strata-spec-escape-2', data: 'pwned' },
    ]);
    const cases = [
      await archive([layers[0]!, escape, layers[2]!]),
      await archive([layers[0]!, layers[1]!, escapeLink]),
      // The config names a diffID the bytes do not have.
      await archive(layers, { config: layeredConfig([sha256(layers[0]!), sha256('other'), sha256(layers[2]!)]) }),
    ];
    for (const [i, arc] of cases.entries()) {
      await assert.rejects(load(t, arc.tar), (err: Error) => err instanceof Error, `case ${i} must fail`);
      assert.deepEqual(
        await t.census(),
        { snapshots: [], blobs: [], images: [], layers: [], ingests: [] },
        `case ${i} left something`,
      );
      assert.equal(t.store.layers.pending.size, 0);
    }
    assert.ok(!fs.existsSync('/tmp/strata-spec-escape'));
    assert.ok(!fs.existsSync('/tmp/strata-spec-escape-2'));
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('a load cut off mid-layer removes the layers it already extracted', async () => {
  const t = await openStore();
  try {
    const layers = await bigLayers();
    const arc = await archive(layers);
    // Up to the middle of the third layer: two layers are extracted by then.
    const cut = arc.tar.subarray(0, arc.tar.length - layers[2]!.length / 2 - 2048);
    await assert.rejects(load(t, cut));
    assert.deepEqual(await t.census(), { snapshots: [], blobs: [], images: [], layers: [], ingests: [] });
    assert.equal(t.store.layers.pending.size, 0);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('layers that come before their parent are extracted during the upload all the same', async () => {
  const t = await openStore();
  try {
    const layers = await bigLayers();
    const arc = await archive(layers, { order: [2, 1, 0] });
    // The archive up to manifest.json's header; the rest is handed over only once every layer
    // is extracted (or the extractions have clearly stopped).
    let at = 0;
    for (let off = 0; off < arc.tar.length; off += 512) {
      if (arc.tar.toString('latin1', off, off + 14) === 'manifest.json\0') at = off;
    }
    assert.ok(at > 0);
    let extractedFirst = false;
    async function* upload() {
      yield arc.tar.subarray(0, at);
      for (let i = 0; i < 1000 && !extractedFirst; i++) {
        extractedFirst = t.store.layers.pending.size === 3;
        if (!extractedFirst) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      yield arc.tar.subarray(at);
    }
    const prepares = countPrepares(t);
    await loadImages(t.store, Readable.from(upload()), { stream: () => {}, progress: () => {} });
    assert.ok(extractedFirst, 'all three layers extracted before the manifest came');
    assert.equal(prepares.n, 3, 'one extraction per layer');
    await assertLoaded(t, layers, arc.id);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

/** The archive's bytes up to `cut`, then the rest once `ready()` holds (or after about 20 s). */
function slowUpload(
  tar: Buffer,
  cut: number,
  ready: () => Promise<boolean>,
): { stream: Readable; held: () => boolean } {
  let held = false;
  async function* upload() {
    yield tar.subarray(0, cut);
    for (let i = 0; i < 1000 && !held; i++) {
      held = await ready();
      if (!held) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    yield tar.subarray(cut);
  }
  return { stream: Readable.from(upload()), held: () => held };
}

/** Whether an extraction in progress (an active extract- snapshot) holds `file` already. */
async function extracting(t: TestStore, file: string): Promise<boolean> {
  const keys: string[] = [];
  await t.snapshotter.walk((i) => {
    if (i.name.startsWith('extract-')) keys.push(i.name);
  });
  for (const k of keys) {
    const dir = await t.snapshotter.applyTarget(k).then(
      (a) => a.dir,
      () => undefined,
    );
    if (dir && fs.existsSync(path.join(dir, file))) return true;
  }
  return false;
}

test('a layer is extracted while its bytes arrive: its files are written before its last byte is sent', async () => {
  const t = await openStore();
  try {
    const layer = await makeTar([
      { name: 'first', data: randomBytes(2 << 20) },
      { name: 'second', data: randomBytes(2 << 20) },
    ]);
    const diffID = sha256(layer);
    const config = layeredConfig([diffID]);
    const id = sha256(config);
    const tar = await makeTar([
      { name: `${id.slice(7)}.json`, data: config },
      { name: 'aaaa/layer.tar', data: layer },
      {
        name: 'manifest.json',
        data: JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: ['one:1'], Layers: ['aaaa/layer.tar'] }]),
      },
    ]);
    const start = tar.indexOf(layer.subarray(0, 512));
    assert.ok(start > 0);
    // All but the last 256 KiB of the layer: "first" (its first 2 MiB) is long in by then.
    let staging: string[] | undefined;
    const up = slowUpload(tar, start + layer.length - (256 << 10), async () => {
      const held = await extracting(t, 'first');
      if (held) staging = fs.readdirSync(t.store.content.ingestDir);
      return held;
    });
    const prepares = countPrepares(t);
    await loadImages(t.store, up.stream, { stream: () => {}, progress: () => {} });
    assert.ok(up.held(), 'files extracted before the upload ended');
    // Where layers apply apart from their parent, the bytes are only extracted and hashed.
    if (t.snapshotter.appliesApart) assert.deepEqual(staging, [], 'no staged copy written while extracting');
    else assert.equal(staging?.length, 1, 'the staged copy written alongside');
    assert.equal(prepares.n, 1, 'extracted once');
    assert.equal((await t.store.resolve('one:1')).id, id);
    const c = await t.census();
    assert.deepEqual(c.snapshots, [diffID]);
    assert.deepEqual(c.blobs, [], 'the staged copy is gone: its tar-split record gives the tar back');
    assert.deepEqual(c.ingests, []);
    const chunks: Buffer[] = [];
    for await (const b of t.store.layers.readTar(diffID)) chunks.push(b as Buffer);
    assert.ok(Buffer.concat(chunks).equals(layer), 'original bytes given back');
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

/** `buf` in chunks of uneven sizes, most of which split a tar header or a file's data. */
function unevenChunks(buf: Buffer): Buffer[] {
  const sizes = [1, 5, 511, 513, 4097, 700, 65_536, 3];
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(buf.subarray(off, off + n));
    off += n;
  }
  return out;
}

test('an archive arriving in chunks that split its headers, plain or with gzip layers, is extracted as it arrives all the same', async () => {
  const layers = await bigLayers();
  for (const gzip of [false, true]) {
    const t = await openStore();
    try {
      // Docker loads a compressed layer.tar too; its diffID is that of the uncompressed bytes.
      const sent = gzip ? layers.map((l) => zlib.gzipSync(l)) : layers;
      const arc = await archive(sent, { config: layeredConfig(layers.map((l) => sha256(l))) });
      const prepares = countPrepares(t);
      await loadImages(t.store, Readable.from(unevenChunks(arc.tar)), { stream: () => {}, progress: () => {} });
      assert.equal(prepares.n, 3, `one extraction per layer (gzip: ${gzip})`);
      await assertLoaded(t, layers, arc.id);
    } finally {
      t.close();
      removeStoreDir(t.dir);
    }
  }
});

test('a client that goes away mid-layer fails the load and leaves nothing', async () => {
  const t = await openStore();
  try {
    const layers = await bigLayers();
    const arc = await archive(layers);
    // The connection breaks in the middle of the second layer.
    const at = arc.tar.indexOf(layers[1]!.subarray(0, 512)) + (layers[1]!.length >> 1);
    const input = new Readable({ read() {} });
    input.push(arc.tar.subarray(0, at));
    setTimeout(() => input.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), 200);
    await assert.rejects(
      loadImages(t.store, input, { stream: () => {}, progress: () => {} }),
      (err: Error) => !/missing from the archive/.test(err.message),
    );
    assert.deepEqual(await t.census(), { snapshots: [], blobs: [], images: [], layers: [], ingests: [] });
    assert.equal(t.store.layers.pending.size, 0);
    assert.equal(t.store.layers.extracting.size, 0);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('a wrong guess (layers out of config order, no diffID in their names) costs one extraction, never the load', async () => {
  const t = await openStore();
  try {
    const layers = await bigLayers();
    const arc = await archive(layers, { order: [1, 0, 2], v1Names: true });
    const prepares = countPrepares(t);
    await load(t, arc.tar);
    // The second layer's bytes came first and were taken for the first layer's: that extraction
    // was dropped, and the three layers each extracted once.
    assert.equal(prepares.n, 4);
    await assertLoaded(t, layers, arc.id);

    // Bytes that are no layer of the config fail as they did, and leave nothing.
    const u = await openStore();
    try {
      const bad = await archive(layers, {
        v1Names: true,
        config: layeredConfig([sha256(layers[0]!), sha256('other'), sha256(layers[2]!)]),
      });
      await assert.rejects(load(u, bad.tar), /invalid diffID for layer 1: expected "sha256:[a-f0-9]{64}", got/);
      assert.deepEqual(await u.census(), { snapshots: [], blobs: [], images: [], layers: [], ingests: [] });
      assert.equal(u.store.layers.pending.size, 0);
      assert.equal(u.store.layers.extracting.size, 0);
    } finally {
      u.close();
      removeStoreDir(u.dir);
    }
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

for (const [what, entries, last] of [
  [
    'a path written twice',
    [
      { name: 'twice', data: randomBytes(BIG) },
      { name: 'other', data: 'x' },
      { name: 'twice', data: 'the second one' },
    ],
    'twice',
  ],
  [
    'a whiteout of its own file',
    [
      { name: 'gone', data: randomBytes(BIG) },
      { name: 'other', data: 'x' },
      { name: '.wh.gone', data: '' },
      { name: 'kept', data: randomBytes(BIG) },
    ],
    '.wh.gone',
  ],
] as [string, TarEntry[], string][]) {
  test(`a layer whose files cannot give its tar back (${what}) spills a staged copy only from there and saves back byte for byte`, async () => {
    const t = await openStore();
    try {
      const layer = await makeTar(entries);
      const diffID = sha256(layer);
      const config = layeredConfig([diffID]);
      const id = sha256(config);
      const tar = await makeTar([
        { name: `${id.slice(7)}.json`, data: config },
        { name: 'v1/layer.tar', data: layer },
        {
          name: 'manifest.json',
          data: JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: ['twice:1'], Layers: ['v1/layer.tar'] }]),
        },
      ]);
      // Held just before the header of the entry that makes the record unfaithful, until the
      // extraction has written the entry before it.
      const start = tar.indexOf(layer.subarray(0, 512));
      const header = Buffer.alloc(100);
      header.write(last);
      let at = layer.indexOf(header, 512);
      while (at % 512 !== 0) at = layer.indexOf(header, at + 1);
      let staging: string[] | undefined;
      const up = slowUpload(tar, start + at, async () => {
        const held = await extracting(t, 'other');
        if (held) staging = fs.readdirSync(t.store.content.ingestDir);
        return held;
      });
      const prepares = countPrepares(t);
      await loadImages(t.store, up.stream, { stream: () => {}, progress: () => {} });
      assert.ok(up.held());
      if (t.snapshotter.appliesApart) {
        assert.deepEqual(staging, [], 'no staged copy before the entry that spills');
        assert.equal(prepares.n, 2, 'extracted while uploading up to the spill, then again from the spilled copy');
      } else assert.equal(prepares.n, 1, 'extracted once, while uploading');
      const c = await t.census();
      assert.deepEqual(c.snapshots, [diffID]);
      assert.deepEqual(c.blobs, [diffID], 'its staged copy kept as its tar');
      assert.deepEqual(c.ingests, []);
      const dir = (await t.snapshotter.diffSource(diffID)).upper;
      if (what.includes('twice')) assert.equal(fs.readFileSync(path.join(dir, 'twice'), 'utf8'), 'the second one');
      else assert.ok(fs.existsSync(path.join(dir, 'kept')) && fs.existsSync(path.join(dir, 'other')));
      const saved: Buffer[] = [];
      for await (const b of saveImages(t.store, selectImages(t.store, ['twice:1']))) saved.push(b as Buffer);
      assert.ok(Buffer.concat(saved).includes(layer), 'save gives the layer back byte for byte');
    } finally {
      t.close();
      removeStoreDir(t.dir);
    }
  });
}

test('bytes that do not apply fail the load with the error an extraction from a staged copy gives, leaving nothing', async () => {
  // A hard link to a file the layer does not have: nothing in its headers says so.
  const layer = await makeTar([
    { name: 'pad', data: randomBytes(BIG) },
    { name: 'link', type: 'link' as 'file', linkname: 'missing' },
  ]);
  const messages: string[] = [];
  for (const configFirst of [true, false]) {
    const t = await openStore();
    try {
      const diffID = sha256(layer);
      const config = layeredConfig([diffID]);
      const id = sha256(config);
      const cfg = { name: `${id.slice(7)}.json`, data: config };
      const entries: TarEntry[] = [
        { name: 'v1/layer.tar', data: layer },
        {
          name: 'manifest.json',
          data: JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: ['bad:1'], Layers: ['v1/layer.tar'] }]),
        },
      ];
      const tar = await makeTar(configFirst ? [cfg, ...entries] : [...entries, cfg]);
      const prepares = countPrepares(t);
      await assert.rejects(load(t, tar), (err: Error) => (messages.push(err.message), true));
      // Config first: extracted as it arrived and not again; config last: from the staged copy.
      // Only where layers apply apart from their parent: onto a copy of it (vfs) a failed
      // extraction may depend on the parent, so the staged copy is extracted again.
      if (t.snapshotter.appliesApart) assert.equal(prepares.n, 1);
      assert.deepEqual(await t.census(), { snapshots: [], blobs: [], images: [], layers: [], ingests: [] });
      assert.equal(t.store.layers.pending.size, 0);
      assert.equal(t.store.layers.extracting.size, 0);
    } finally {
      t.close();
      removeStoreDir(t.dir);
    }
  }
  assert.equal(messages[0], messages[1]);
  // The extraction's error, not a digest mismatch: a failed extraction need not know its digest.
  assert.match(messages[0]!, /link/);
  assert.doesNotMatch(messages[0]!, /diffID/);
});

for (const bEnds of ['loads', 'is cut off'] as const) {
  test(`a load that fails after adopting the base layer another load extracted while uploading hands it back: the other ${bEnds}, and nothing is left over`, async () => {
    const t = await openStore();
    try {
      const layers = await bigLayers();
      const b = await archive(layers, { tag: 'b:1' });
      // A shares B's base layer; its second layer's bytes do not apply (a hard link to a file it
      // does not have), which only its extraction finds, after it has adopted the base layer.
      const bad = await makeTar([
        { name: 'pad', data: randomBytes(BIG) },
        { name: 'link', type: 'link' as 'file', linkname: 'missing' },
      ]);
      const a = await archive([layers[0]!, bad], { tag: 'a:1' });
      const base = sha256(layers[0]!);
      // B's upload holds at the header of its second layer's entry until A has failed.
      const cut = b.tar.indexOf(layers[1]!.subarray(0, 512)) - 512;
      assert.ok(cut > 0);
      let aFailed!: () => void;
      const failed = new Promise<void>((resolve) => (aFailed = resolve));
      async function* upload() {
        yield b.tar.subarray(0, cut);
        await failed;
        yield bEnds === 'loads' ? b.tar.subarray(cut) : b.tar.subarray(cut, cut + 4096);
      }
      const loadB = loadImages(t.store, Readable.from(upload()), { stream: () => {}, progress: () => {} });
      loadB.catch(() => {}); // awaited below
      const { pending, extracting } = t.store.layers;
      for (let i = 0; i < 1000 && !(pending.has(base) && !extracting.has(base)); i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(pending.has(base), "B's base layer extracted while uploading, pending");

      await assert.rejects(load(t, a.tar), (err: Error) => !/missing from the archive/.test(err.message));
      assert.ok(pending.has(base), 'the base layer is pending again, for B');
      aFailed();

      if (bEnds === 'loads') {
        await loadB;
        await assertLoaded(t, layers, b.id, 'b:1');
        assert.deepEqual((await t.census()).images, [b.id]);
        const saved: Buffer[] = [];
        for await (const c of saveImages(t.store, selectImages(t.store, ['b:1']))) saved.push(c as Buffer);
        const all = Buffer.concat(saved);
        for (const l of layers) assert.ok(all.includes(l), 'save gives each layer back byte for byte');
      } else {
        await assert.rejects(loadB, (err: Error) => !/missing from the archive/.test(err.message));
        assert.deepEqual(await t.census(), { snapshots: [], blobs: [], images: [], layers: [], ingests: [] });
      }
      assert.equal(pending.size, 0);
      assert.equal(extracting.size, 0);
      assert.equal(t.store.layers.heir(base), undefined, 'no load is noted as relying on it any more');
    } finally {
      t.close();
      removeStoreDir(t.dir);
    }
  });
}

for (const aImage of ['removed', 'kept'] as const) {
  test(`a layer another load stored while this one extracted it (its image then ${aImage} before this load ends) loads all the same, leaving no copy behind`, async () => {
    const t = await openStore();
    try {
      const layers = await bigLayers();
      const base = sha256(layers[0]!);
      const a = await archive([layers[0]!], { tag: 'a:1' });
      const b = await archive(layers, { tag: 'b:1' });
      const { extracting } = t.store.layers;
      const until = async (what: () => boolean) => {
        for (let i = 0; i < 1000 && !what(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
        return what();
      };
      // A stops just before its rows: its base layer is in its transaction, claimed by nobody.
      let aAt!: () => void;
      const atCommit = new Promise<void>((resolve) => (aAt = resolve));
      let aGo!: () => void;
      const go = new Promise<void>((resolve) => (aGo = resolve));
      const commitImage = t.store.commitImage.bind(t.store);
      t.store.commitImage = async (...args) => {
        if (args[0].tags?.some((tag) => tag.endsWith('/a:1'))) {
          aAt();
          await go;
        }
        return commitImage(...args);
      };
      const loadA = load(t, a.tar);
      await atCommit;

      // B's upload: half its base layer, then the rest of it once A's rows are in, then the rest
      // of the archive once A's image (and with it the base layer) is removed.
      const start = b.tar.indexOf(layers[0]!.subarray(0, 512));
      const next = b.tar.indexOf(layers[1]!.subarray(0, 512)) - 512;
      let aLoaded!: () => void;
      const loaded = new Promise<void>((resolve) => (aLoaded = resolve));
      let aRemoved!: () => void;
      const removed = new Promise<void>((resolve) => (aRemoved = resolve));
      async function* upload() {
        yield b.tar.subarray(0, start + (layers[0]!.length >> 1));
        await loaded;
        yield b.tar.subarray(start + (layers[0]!.length >> 1), next);
        await removed;
        yield b.tar.subarray(next);
      }
      const loadB = loadImages(t.store, Readable.from(upload()), { stream: () => {}, progress: () => {} });
      loadB.catch(() => {}); // awaited below
      assert.ok(await until(() => extracting.has(base)), 'B extracts the base layer while uploading');
      aGo();
      await loadA;
      assert.ok(t.store.layers.get(base), "A's rows are in");
      aLoaded();
      assert.ok(await until(() => !extracting.has(base)), "B's extraction of the base layer has ended");
      if (aImage === 'removed') {
        await removeImage(t.store, 'a:1', { force: false, noprune: false, isRunning: () => false });
        assert.equal(t.store.layers.get(base), undefined, 'the base layer went with A');
      }
      aRemoved();

      await loadB;
      await assertLoaded(t, layers, b.id, 'b:1');
      assert.deepEqual((await t.census()).images, aImage === 'removed' ? [b.id] : [a.id, b.id].sort());
      const saved: Buffer[] = [];
      for await (const c of saveImages(t.store, selectImages(t.store, ['b:1']))) saved.push(c as Buffer);
      const all = Buffer.concat(saved);
      for (const l of layers) assert.ok(all.includes(l), 'save gives each layer back byte for byte');
      assert.equal(extracting.size, 0);
    } finally {
      t.close();
      removeStoreDir(t.dir);
    }
  });
}

test('a layer handed back to a load that then fails goes on to another live load that relies on it', async () => {
  const t = await openStore();
  try {
    const layers = await bigLayers();
    const base = sha256(layers[0]!);
    const bad = await makeTar([
      { name: 'pad', data: randomBytes(BIG) },
      { name: 'link', type: 'link' as 'file', linkname: 'missing' },
    ]);
    const a = await archive([layers[0]!, bad], { tag: 'a:1' });
    const b = await archive(layers, { tag: 'b:1' });
    const c = await archive(layers, { tag: 'c:1' });
    const { pending, extracting } = t.store.layers;
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 1000 && !what(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      return what();
    };
    const gate = () => {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      return { open, opened };
    };
    const start = b.tar.indexOf(layers[0]!.subarray(0, 512));
    const next = b.tar.indexOf(layers[1]!.subarray(0, 512)) - 512;

    // C extracts the base layer from its upload and holds there; it is cut off later.
    const cGo = gate();
    async function* uploadC() {
      yield c.tar.subarray(0, next);
      await cGo.opened;
      yield c.tar.subarray(next, next + 4096);
    }
    const loadC = loadImages(t.store, Readable.from(uploadC()), { stream: () => {}, progress: () => {} });
    loadC.catch(() => {}); // awaited below
    assert.ok(await until(() => pending.has(base) && !extracting.has(base)), "C's base layer pending");
    const cLoad = pending.get(base)!.owner;

    // A adopts it and stops before extracting its second layer, which then fails.
    const aAt = gate();
    const aGo = gate();
    let armed = true;
    const prepare = t.snapshotter.prepare.bind(t.snapshotter);
    t.snapshotter.prepare = async (...args) => {
      if (armed) {
        armed = false;
        aAt.open();
        await aGo.opened;
      }
      return prepare(...args);
    };
    const loadA = load(t, a.tar);
    await aAt.opened;
    assert.ok(!pending.has(base), 'adopted by A');

    // Meanwhile B, finding the base layer unclaimed, extracts it from its upload too; A fails and
    // hands the layer back to C before B's extraction ends, so B relies on C's.
    const bMid = gate();
    const bEnd = gate();
    async function* uploadB() {
      yield b.tar.subarray(0, start + (layers[0]!.length >> 1));
      await bMid.opened;
      yield b.tar.subarray(start + (layers[0]!.length >> 1), next);
      await bEnd.opened;
      yield b.tar.subarray(next);
    }
    const loadB = loadImages(t.store, Readable.from(uploadB()), { stream: () => {}, progress: () => {} });
    loadB.catch(() => {}); // awaited below
    assert.ok(await until(() => extracting.has(base)), 'B extracts the base layer while uploading');
    aGo.open();
    await assert.rejects(loadA, (err: Error) => !/missing from the archive/.test(err.message));
    assert.equal(pending.get(base)?.owner, cLoad, 'handed back to C');
    bMid.open();
    assert.ok(await until(() => !extracting.has(base)), "B's extraction of the base layer has ended");
    assert.equal(pending.get(base)?.owner, cLoad, "B's own extraction dropped: it relies on C's");

    // C fails: the layer goes on to B, which loads.
    cGo.open();
    await assert.rejects(loadC, (err: Error) => !/missing from the archive/.test(err.message));
    if (t.snapshotter.appliesApart)
      assert.ok(pending.has(base) && pending.get(base)!.owner !== cLoad, 'handed on to B');
    // Where a layer applies onto its parent's files, B wrote a staged copy and relies on nothing.
    else assert.ok(!pending.has(base), 'gone with C');
    bEnd.open();
    await loadB;
    await assertLoaded(t, layers, b.id, 'b:1');
    assert.deepEqual((await t.census()).images, [b.id]);
    const saved: Buffer[] = [];
    for await (const s of saveImages(t.store, selectImages(t.store, ['b:1']))) saved.push(s as Buffer);
    const all = Buffer.concat(saved);
    for (const l of layers) assert.ok(all.includes(l), 'save gives each layer back byte for byte');
    assert.equal(extracting.size, 0);
    assert.equal(t.store.layers.heir(base), undefined, 'no load is noted as relying on it any more');
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('overlay2: a layer extracted while uploading keeps the usage counted as it was written, the one a walk finds', async () => {
  const t = await openStore(undefined, 'overlay2');
  try {
    const layers = await bigLayers();
    const walked: string[] = [];
    const sn = t.snapshotter as unknown as { measure: (row: { key: string }, ...rest: unknown[]) => unknown };
    const measure = sn.measure.bind(sn);
    sn.measure = (row, ...rest) => {
      walked.push(row.key);
      return measure(row, ...rest);
    };
    await load(t, (await archive(layers)).tar);
    const chains = chainIDs(layers);
    // The first layer was counted as written; the others hold whiteouts, which only a walk counts.
    assert.ok(!walked.includes(chains[0]!), 'the counted layer was not walked');
    assert.ok(walked.includes(chains[1]!) && walked.includes(chains[2]!));
    for (const chain of chains) {
      const src = await t.snapshotter.diffSource(chain);
      assert.equal(src.kind, 'overlay');
      assert.deepEqual(await t.snapshotter.usage(chain), await directoryUsage(src.upper), chain);
    }
    assert.equal(t.store.layers.get(chains[0]!)?.size, BIG + 1);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
