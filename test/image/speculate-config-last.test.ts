// Layers that arrive before any image config (`docker save` writes its archive in name order,
// so the config may come after some or all of the layers): where layers apply apart from their
// parent (overlay2), each is extracted as it arrives, with no staged copy, and placed in its
// chain once a config names its digest; what no config places gets its copy back from its files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { loadImages } from '../../src/image/load.js';
import { layeredConfig, makeTar, sha256, type TarEntry } from './fixture-archive.js';
import { openStore, removeStoreDir, type TestStore } from './store-helper.js';
import { BIG, bigLayers, chainIDs, countPrepares } from './speculate-fixtures.js';

interface Image {
  layers: Buffer[];
  tag: string;
}

/**
 * A docker-archive of `images`: their layer files in `order` (indexes into every image's layers
 * in turn, each file once), then each image's config, then manifest.json; `configAt` puts the
 * configs before the layer file of that place instead, `first` comes before everything.
 */
async function archive(
  images: Image[],
  opts: { order?: number[]; configAt?: number; first?: TarEntry[] } = {},
): Promise<{ tar: Buffer; ids: string[] }> {
  const files = new Map<string, Buffer>();
  const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const configs: TarEntry[] = [];
  const ids: string[] = [];
  for (const img of images) {
    const diffIDs = img.layers.map((l) => sha256(l));
    const config = layeredConfig(diffIDs, img.tag);
    const id = sha256(config);
    ids.push(id);
    configs.push({ name: `${id.slice(7)}.json`, data: config });
    // Docker 20.10 names each layer's directory by a v1 ID, which is no diffID.
    const paths = diffIDs.map((d) => `${sha256(`v1 ${d}`).slice(7)}/layer.tar`);
    paths.forEach((p, i) => files.set(p, img.layers[i]!));
    manifest.push({ Config: `${id.slice(7)}.json`, RepoTags: [img.tag], Layers: paths });
  }
  const names = [...files.keys()];
  const layerEntries: TarEntry[] = (opts.order ?? names.map((_, i) => i)).map((i) => ({
    name: names[i]!,
    data: files.get(names[i]!)!,
  }));
  const at = opts.configAt ?? layerEntries.length;
  const entries = [
    ...(opts.first ?? []),
    ...layerEntries.slice(0, at),
    ...configs,
    ...layerEntries.slice(at),
    { name: 'manifest.json', data: JSON.stringify(manifest) },
  ];
  return { tar: await makeTar(entries), ids };
}

/** The files the active extract- snapshots hold at their top level. */
async function extractedFiles(t: TestStore): Promise<string[]> {
  const keys: string[] = [];
  await t.snapshotter.walk((i) => {
    if (i.name.startsWith('extract-') && i.kind === 'active') keys.push(i.name);
  });
  const out: string[] = [];
  for (const k of keys) {
    const dir = await t.snapshotter.applyTarget(k).then(
      (a) => a.dir,
      () => undefined,
    );
    if (dir) out.push(...fs.readdirSync(dir));
  }
  return out.sort();
}

async function assertLoaded(t: TestStore, img: Image, id: string): Promise<void> {
  assert.equal((await t.store.resolve(img.tag)).id, id);
  for (const l of img.layers) {
    const chunks: Buffer[] = [];
    for await (const c of t.store.layers.readTar(sha256(l))) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(l), 'original bytes given back');
  }
  const top = chainIDs(img.layers).at(-1)!;
  assert.equal((await t.store.resolve(img.tag)).topChainID, top);
}

/** Nothing but the committed layers: no extraction, staged copy or pending layer left over. */
async function assertClean(t: TestStore, layers: string[]): Promise<void> {
  const c = await t.census();
  assert.deepEqual(c.snapshots, [...layers].sort(), 'only the committed layers, no extract- leftovers');
  assert.deepEqual(c.layers, [...layers].sort());
  assert.deepEqual(c.ingests, []);
  assert.deepEqual(c.blobs, [], 'tar-split records give every tar back: no blob kept');
  assert.equal(t.store.layers.pending.size, 0);
  assert.equal(t.store.layers.extracting.size, 0);
}

test('overlay2, config after its layers: each layer is extracted as it arrives, with no staged copy, then placed', async () => {
  const t = await openStore(undefined, 'overlay2');
  try {
    const layers = await bigLayers();
    const img = { layers, tag: 'last:1' };
    const arc = await archive([img], { order: [2, 0, 1] });
    const configHeader = arc.tar.indexOf(`${arc.ids[0]!.slice(7)}.json\0`);
    assert.ok(configHeader > 0 && configHeader % 512 === 0);
    // Every layer's bytes, then a pause before the config: by then each layer must be extracted.
    let seen: string[] = [];
    let ingests: string[] = [];
    let held = false;
    async function* upload() {
      yield arc.tar.subarray(0, configHeader);
      for (let i = 0; i < 1000 && !held; i++) {
        seen = await extractedFiles(t);
        held = ['etc', 'three', 'two'].every((f) => seen.includes(f));
        if (held) ingests = fs.readdirSync(t.store.content.ingestDir);
        else await new Promise((resolve) => setTimeout(resolve, 20));
      }
      yield arc.tar.subarray(configHeader);
    }
    const prepares = countPrepares(t);
    await loadImages(t.store, Readable.from(upload()), { stream: () => {}, progress: () => {} });
    assert.ok(held, `every layer extracted before the config came (saw ${seen.join(' ')})`);
    assert.deepEqual(ingests, [], 'no staged copy written');
    assert.equal(prepares.n, 3, 'each layer extracted once');
    await assertLoaded(t, img, arc.ids[0]!);
    const chains = chainIDs(layers);
    await assertClean(t, chains);
    // The layers are placed in their chain: the top one shows the whole image, whiteouts applied.
    const view = await t.snapshotter.view('check-view', chains[2]!);
    assert.ok(view.length > 0);
    const src = await t.snapshotter.diffSource(chains[2]!);
    assert.equal(src.kind, 'overlay');
    await t.snapshotter.remove('check-view');
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('config in the middle, a layer no config names, two images sharing a base: all load, nothing left over', async () => {
  const layers = await bigLayers();
  const other = await makeTar([{ name: 'other', data: randomBytes(BIG) }]);
  const stray = await makeTar([{ name: 'stray', data: randomBytes(BIG) }]);
  const a = { layers, tag: 'a:1' };
  const b = { layers: [layers[0]!, other], tag: 'b:1' };
  const cases: { images: Image[]; order: number[]; configAt: number; first?: TarEntry[] }[] = [
    // One image, its config between its layers (the top one and its parent before it).
    { images: [a], order: [2, 1, 0], configAt: 2 },
    // A large tar no config names comes first and is never placed.
    { images: [a], order: [1, 2, 0], configAt: 3, first: [{ name: 'stray/layer.tar', data: stray }] },
    // Two images, both configs after every layer.
    { images: [a, b], order: [3, 2, 1, 0], configAt: 4 },
  ];
  for (const driver of ['overlay2', 'vfs'] as const) {
    for (const [i, c] of cases.entries()) {
      const t = await openStore(undefined, driver);
      try {
        const arc = await archive(c.images, c);
        await loadImages(t.store, Readable.from([arc.tar]), { stream: () => {}, progress: () => {} });
        for (const [k, img] of c.images.entries()) await assertLoaded(t, img, arc.ids[k]!);
        await assertClean(t, [...new Set(c.images.flatMap((img) => chainIDs(img.layers)))]);
      } catch (err) {
        (err as Error).message = `${driver}, case ${i}: ${(err as Error).message}`;
        throw err;
      } finally {
        t.close();
        removeStoreDir(t.dir);
      }
    }
  }
});

test('a load cut off before the config comes leaves no extraction behind', async () => {
  const t = await openStore(undefined, 'overlay2');
  try {
    const layers = await bigLayers();
    const arc = await archive([{ layers, tag: 'cut:1' }]);
    const configHeader = arc.tar.indexOf(`${arc.ids[0]!.slice(7)}.json\0`);
    await assert.rejects(
      loadImages(t.store, Readable.from([arc.tar.subarray(0, configHeader)]), { stream: () => {}, progress: () => {} }),
    );
    assert.deepEqual(await t.census(), { snapshots: [], blobs: [], images: [], layers: [], ingests: [] });
    assert.equal(t.store.layers.pending.size, 0);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
