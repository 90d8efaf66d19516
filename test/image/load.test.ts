import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { loadImages } from '../../src/image/load.js';
import { saveImages, selectImages } from '../../src/image/save.js';
import { inspectImage } from '../../src/image/inspect.js';
import { dockerArchive, layeredLayers, makeTar, ociArchive, sha256 } from './fixture-archive.js';
import { openStore, removeStoreDir, type TestStore } from './store-helper.js';

async function load(t: TestStore, tar: Buffer): Promise<string[]> {
  const lines: string[] = [];
  await loadImages(t.store, Readable.from([tar]), { stream: (s) => lines.push(s), progress: () => {} });
  return lines;
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// Layer chainIDs and image ID as the reference daemon computed them (see digest.test.ts).
const dockerChainIDs = [
  'sha256:7d3eabbb45c99f10032f213c0fbb09f9413103bec0d46097c0182731987f6445',
  'sha256:c33631e7e3ff6ea8721ae7a5a625c203f0a507f9c5ffedab2aebc938b30d9dff',
  'sha256:b23fb09318f743fc0df27ec9a0c6f096f37045542c0d8f1e213a277b72bbe63b',
];

test("docker-archive loads with Docker's IDs; save → load elsewhere gives the same IDs and bytes", async () => {
  const a = await openStore();
  let b: TestStore | undefined;
  try {
    const arc = await dockerArchive({ tag: 'layered:1' });
    assert.deepEqual(await load(a, arc.tar), ['Loaded image: layered:1\n']);
    const img = await a.store.resolve('layered:1');
    assert.equal(img.id, arc.id);
    assert.equal(img.topChainID, dockerChainIDs[2]);
    assert.deepEqual(img.repoTags, ['layered:1']);
    // Sizes Docker reports for this image: 23 + 4 + 4 (symlink targets count, whiteouts do not).
    assert.equal(img.size, 31);
    const c = await a.census();
    assert.deepEqual(c.layers, [...dockerChainIDs].sort());
    for (const ch of dockerChainIDs) assert.ok(c.snapshots.includes(ch));
    // No second copy of the layers: their files and a tar-split record per diffID.
    assert.deepEqual(c.blobs, [], 'no uncompressed tar kept beside the files');
    for (const d of arc.diffIDs) assert.ok(a.store.layers.records.has(d), `tar-split record of ${d}`);
    const inspect = await inspectImage(a.store, a.store.findRow(arc.id));
    assert.deepEqual((inspect.RootFS as { Layers: string[] }).Layers, arc.diffIDs);

    const saved = await collect(saveImages(a.store, selectImages(a.store, ['layered:1'])));
    b = await openStore();
    assert.deepEqual(await load(b, saved), ['Loaded image: layered:1\n']);
    assert.equal((await b.store.resolve('layered:1')).id, arc.id);
    const layers = await layeredLayers();
    for (const l of layers)
      assert.deepEqual(await collect(b.store.layers.readTar(sha256(l))), l, 'layer bytes survive save/load');
  } finally {
    a.close();
    removeStoreDir(a.dir);
    if (b) {
      b.close();
      removeStoreDir(b.dir);
    }
  }
});

test('OCI image layout loads with the same image ID and its containerd name', async () => {
  const t = await openStore();
  try {
    const oci = await ociArchive('docker.io/library/layered-oci:2');
    assert.deepEqual(await load(t, oci.tar), ['Loaded image: layered-oci:2\n']);
    assert.equal((await t.store.resolve('layered-oci:2')).id, oci.id);
    assert.equal((await t.store.resolve('layered-oci:2')).topChainID, dockerChainIDs[2]);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('a shared layer is stored once; retagging moves the tag and says so', async () => {
  const t = await openStore();
  try {
    const one = await dockerArchive({ tag: 'x:1', label: 'one' });
    const two = await dockerArchive({ tag: 'x:1', label: 'two' });
    await load(t, one.tar);
    const lines = await load(t, two.tar);
    assert.deepEqual(lines, [
      `The image x:1 already exists, renaming the old one with ID ${one.id} to empty string\n`,
      'Loaded image: x:1\n',
    ]);
    const c = await t.census();
    assert.equal(c.images.length, 2);
    assert.equal(c.layers.length, 3, 'three layers, shared by both images');
    assert.deepEqual((await t.store.resolve(one.id)).repoTags, []);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('an untagged archive answers with the image ID', async () => {
  const t = await openStore();
  try {
    const arc = await dockerArchive({});
    assert.deepEqual(await load(t, arc.tar), [`Loaded image ID: ${arc.id}\n`]);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('hostile or broken archives leave no image, snapshot, blob or ingest', async () => {
  const t = await openStore();
  try {
    const layers = await layeredLayers();
    const escape = await makeTar([{ name: '../../../../tmp/strata-escape-test', data: 'pwned' }]);
    const escapeLink = await makeTar([
      { name: 'evil', type: 'symlink', linkname: '/tmp' },
      { name: 'evil/strata-escape-test-2', data: 'pwned' },
    ]);
    const cases: Buffer[] = [
      (await dockerArchive({ layers: [layers[0]!, escape] })).tar,
      (await dockerArchive({ layers: [layers[0]!, layers[1]!, escapeLink] })).tar,
      // manifest/config claim a diffID the bytes do not have
      (
        await dockerArchive({
          layers: [layers[0]!, layers[1]!],
          config: Buffer.from(
            JSON.stringify({ rootfs: { type: 'layers', diff_ids: [sha256(layers[0]!), sha256('other')] } }),
          ),
        })
      ).tar,
      Buffer.from('this is not a tar at all'),
      await makeTar([{ name: 'manifest.json', data: '[{"Config":"missing.json","Layers":[]}]' }]),
    ];
    for (const [i, tar] of cases.entries()) {
      await assert.rejects(
        load(t, tar),
        (err: Error) => {
          if (process.env.SHOW_ERRORS) console.log(i, err.message);
          return true;
        },
        `case ${i} must fail`,
      );
      const c = await t.census();
      assert.deepEqual(
        { ...c },
        { snapshots: [], blobs: [], images: [], layers: [], ingests: [] },
        `case ${i} left something`,
      );
    }
    const fs = await import('node:fs');
    assert.ok(!fs.existsSync('/tmp/strata-escape-test'));
    assert.ok(!fs.existsSync('/tmp/strata-escape-test-2'));
    // and a good load still works afterwards
    await load(t, (await dockerArchive({ tag: 'ok:1' })).tar);
    assert.equal((await t.census()).images.length, 1);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('startup removes layer snapshots and blobs an interrupted load left without rows', async () => {
  let t = await openStore();
  try {
    const layers = await layeredLayers();
    // What a SIGKILL between "snapshot committed, blob renamed" and "rows committed" leaves.
    await t.snapshotter.prepare('extract-test', undefined);
    await t.snapshotter.commit(sha256(layers[0]!), 'extract-test');
    await t.store.content.putBuffer(layers[0]!);
    await t.snapshotter.prepare('extract-interrupted', sha256(layers[0]!));
    const w = await t.store.content.writer();
    await w.write(Buffer.from('partial'));
    t = await t.reopen();
    assert.deepEqual(await t.census(), { snapshots: [], blobs: [], images: [], layers: [], ingests: [] });
    await load(t, (await dockerArchive({ tag: 'again:1' })).tar);
    assert.equal((await t.store.resolve('again:1')).topChainID, dockerChainIDs[2]);
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('a layer-less image loads whether its manifest says "Layers": null or []', async () => {
  const t = await openStore();
  try {
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: [] },
        history: [{ created: '2026-01-01T00:00:00Z', created_by: 'empty', empty_layer: true }],
        created: '2026-01-01T00:00:00Z',
      }),
    );
    const id = sha256(config);
    for (const [tag, layers] of [
      ['emptyfs:null', null],
      ['emptyfs:empty', []],
    ] as const) {
      const tar = await makeTar([
        { name: `${id.slice(7)}.json`, data: config },
        {
          name: 'manifest.json',
          data: JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: [tag], Layers: layers }]),
        },
      ]);
      // dockerd 20.10 answers both with {"stream":"Loaded image: emptyfs:…\n"}.
      assert.deepEqual(await load(t, tar), [`Loaded image: ${tag}\n`]);
    }
    const img = await inspectImage(t.store, t.store.findRow(id));
    assert.equal(img.Id, id);
    // dockerd 20.10 shows RootFS {"Type":"layers"} for it.
    assert.deepEqual(JSON.parse(JSON.stringify(img.RootFS)), { Type: 'layers' });
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
