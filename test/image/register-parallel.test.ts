// The layers of a pulled image unpack at once on overlay2, two at a time: a layer's apply starts
// before the one below it is done, a third waits for one of the two to end, each is still
// committed onto its parent, and a layer that fails to verify leaves nothing behind, whatever
// the others had done meanwhile.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { test } from 'node:test';
import { chainIDsOf, registerImage, type IncomingLayer } from '../../src/image/register.js';
import { InvalidParameter } from '../../src/errors.js';
import { makeTar } from '../archive/helpers.js';
import { openStore, removeStoreDir } from './store-helper.js';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function image(n: number) {
  const tars = await Promise.all(
    Array.from({ length: n }, (_, i) => makeTar([{ name: `layer${i}/file`, content: `layer ${i}\n`.repeat(1000) }])),
  );
  const diffIDs = tars.map(sha);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIDs } }),
  );
  return { tars, diffIDs, config };
}

/** Layers whose streams stay open until released, recording which were opened. */
function gated(tars: Buffer[]) {
  const opened: number[] = [];
  const streams: PassThrough[] = [];
  let onOpen = () => {};
  const layers: IncomingLayer[] = tars.map((tar, i) => ({
    async open(): Promise<Readable> {
      const s = new PassThrough();
      s.write(tar.subarray(0, 512)); // the first header: the apply is under way
      streams[i] = s;
      opened.push(i);
      onOpen();
      return s;
    },
  }));
  const release = (i: number, body: Buffer) => streams[i]!.end(body.subarray(512));
  const openedAtLeast = (k: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      onOpen = () => {
        if (opened.length >= k) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      onOpen();
    });
  return { layers, opened, release, openedAtLeast };
}

test('overlay2: layers above the first start applying before it is done, two at a time, and commit onto their parents', async (t) => {
  const ts = await openStore();
  try {
    if (!ts.snapshotter.appliesApart) return t.skip('the snapshotter applies one layer at a time');
    const { tars, diffIDs, config } = await image(4);
    const g = gated(tars);
    const pulled = registerImage(ts.store, config, g.layers, ['docker.io/library/par:1']);
    // Two open at once while layer 0 is still incomplete (one at a time would wait here).
    const two = await g.openedAtLeast(2);
    // A third is not opened while both are under way, however long they take (a third thread
    // would only share the same cores, for its heap and buffers more).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const openWhileTwoRun = g.opened.length;
    // Layer 1 ending (its parent still incomplete) frees its place for layer 2.
    g.release(1, tars[1]!);
    const third = await g.openedAtLeast(3);
    const released = new Set<number>([1]);
    for (;;) {
      for (const i of g.opened) if (!released.has(i)) (released.add(i), g.release(i, tars[i]!));
      if (released.size === 4) break;
      await g.openedAtLeast(released.size + 1);
    }
    const { newLayers } = await pulled;
    assert.ok(two, 'two layers were being applied at once');
    assert.equal(openWhileTwoRun, 2, 'no third layer was opened while two were being applied');
    assert.ok(third, 'the third layer was opened once layer 1 was applied');
    assert.deepEqual(g.opened.slice(0, 3), [0, 1, 2]);
    assert.equal(newLayers, 4);
    const chains = chainIDsOf(diffIDs);
    for (let i = 1; i < 4; i++) assert.equal((await ts.snapshotter.stat(chains[i]!)).parent, chains[i - 1]);
    assert.equal((await ts.snapshotter.stat(chains[0]!)).parent, undefined);
    const c = await ts.census();
    assert.deepEqual(c.layers, [...chains].sort());
    assert.ok(!c.snapshots.some((s) => s.startsWith('extract-')), 'no extraction key left');
  } finally {
    ts.close();
    removeStoreDir(ts.dir);
  }
});

test('a layer that fails its diffID leaves nothing, though the layers above it had applied', async () => {
  const ts = await openStore();
  try {
    const { tars, config } = await image(4);
    const bad = await makeTar([{ name: 'layer1/file', content: 'not what the config says\n' }]);
    const layers: IncomingLayer[] = tars.map((tar, i) => ({
      async open(): Promise<Readable> {
        const s = new PassThrough();
        s.end(i === 1 ? bad : tar);
        return s;
      },
    }));
    await assert.rejects(registerImage(ts.store, config, layers, ['docker.io/library/par:2']), (err: unknown) => {
      assert.ok(err instanceof InvalidParameter);
      assert.match((err as Error).message, /^layer 1: diffID mismatch/);
      return true;
    });
    const c = await ts.census();
    assert.deepEqual(c.snapshots, []);
    assert.deepEqual(c.layers, []);
    assert.deepEqual(c.images, []);
    assert.deepEqual(c.ingests, []);
  } finally {
    ts.close();
    removeStoreDir(ts.dir);
  }
});
