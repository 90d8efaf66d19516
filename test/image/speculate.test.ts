// Layers extracted while the archive uploads (config before layers): same result as the
// two-pass path, each layer extracted once, and every doubt falls back to the two-pass path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { loadImages } from '../../src/image/load.js';
import { saveImages, selectImages } from '../../src/image/save.js';
import { layeredConfig, makeTar, sha256, type TarEntry } from './fixture-archive.js';
import { openStore, removeStoreDir, type TestStore } from './store-helper.js';

/** Larger than what the archive reader keeps in memory, so each layer streams. */
const BIG = (1 << 20) + 4096;

async function bigLayers(): Promise<Buffer[]> {
  return [
    await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/one', data: randomBytes(BIG) },
      { name: 'gone', data: 'x' },
    ]),
    await makeTar([
      { name: '.wh.gone', data: '' },
      { name: 'two', data: randomBytes(BIG) },
    ]),
    await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/.wh..wh..opq', data: '' },
      { name: 'three', data: randomBytes(BIG) },
    ]),
  ];
}

/** A docker-archive with the config first and the layers in `order` (indexes into layers). */
async function archive(
  layers: Buffer[],
  opts: { order?: number[]; config?: Buffer; extra?: TarEntry[]; tag?: string } = {},
): Promise<{ tar: Buffer; id: string }> {
  const diffIDs = layers.map((l) => sha256(l));
  const config = opts.config ?? layeredConfig(diffIDs);
  const id = sha256(config);
  const entries: TarEntry[] = [{ name: `${id.slice(7)}.json`, data: config }, ...(opts.extra ?? [])];
  for (const i of opts.order ?? layers.map((_, i) => i))
    entries.push({ name: `${diffIDs[i]!.slice(7)}/layer.tar`, data: layers[i]! });
  const paths = diffIDs.map((d) => `${d.slice(7)}/layer.tar`);
  entries.push({
    name: 'manifest.json',
    data: JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: [opts.tag ?? 'big:1'], Layers: paths }]),
  });
  return { tar: await makeTar(entries), id };
}

async function load(t: TestStore, tar: Buffer): Promise<void> {
  await loadImages(t.store, Readable.from([tar]), { stream: () => {}, progress: () => {} });
}

/** Counts the snapshots prepared (one per extraction). */
function countPrepares(t: TestStore): { n: number } {
  const c = { n: 0 };
  const orig = t.snapshotter.prepare.bind(t.snapshotter);
  t.snapshotter.prepare = (key, parent, labels) => {
    c.n++;
    return orig(key, parent, labels);
  };
  return c;
}

function chainIDs(layers: Buffer[]): string[] {
  const out: string[] = [];
  for (const l of layers) out.push(out.length ? sha256(`${out[out.length - 1]} ${sha256(l)}`) : sha256(l));
  return out;
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
