// A pull's layers take the unpacking places largest first where layers apply apart (overlay2),
// so that the last one unpacking alone is a small one; each is still committed onto its parent.
// One at a time (vfs), they keep layer order.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { test } from 'node:test';
import { chainIDsOf, registerImage, type IncomingLayer } from '../../src/image/register.js';
import { makeTar } from '../archive/helpers.js';
import { openStore, removeStoreDir } from './store-helper.js';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/** Layers of the given sizes whose streams stay open until released, recording the order they were opened in. */
function gated(tars: Buffer[], sizes: number[]) {
  const opened: number[] = [];
  const streams: PassThrough[] = [];
  const layers: IncomingLayer[] = tars.map((tar, i) => ({
    size: sizes[i],
    async open(): Promise<Readable> {
      const s = new PassThrough();
      s.write(tar.subarray(0, 512));
      streams[i] = s;
      opened.push(i);
      return s;
    },
  }));
  const release = (i: number) => streams[i]!.end(tars[i]!.subarray(512));
  const until = async (k: number) => {
    for (let n = 0; n < 200 && opened.length < k; n++) await sleep(50);
    assert.ok(opened.length >= k, `${k} layers opened (${opened.join(',')})`);
  };
  return { layers, opened, release, until };
}

test('overlay2: the largest waiting layers unpack first, and commit onto their parents', async (t) => {
  const ts = await openStore();
  try {
    if (!ts.snapshotter.appliesApart) return t.skip('the snapshotter applies one layer at a time');
    const { tars, diffIDs, config } = await image(4);
    const g = gated(tars, [6, 172, 256, 176]);
    const pulled = registerImage(ts.store, config, g.layers, ['docker.io/library/order:1']);
    await g.until(2);
    await sleep(300);
    assert.deepEqual(g.opened, [2, 3], 'the two largest first');
    g.release(2);
    await g.until(3);
    assert.equal(g.opened[2], 1, 'then the largest left');
    g.release(3);
    await g.until(4);
    assert.equal(g.opened[3], 0);
    g.release(1);
    g.release(0);
    const { newLayers } = await pulled;
    assert.equal(newLayers, 4);
    const chains = chainIDsOf(diffIDs);
    assert.equal((await ts.snapshotter.stat(chains[0]!)).parent, undefined);
    for (let i = 1; i < 4; i++) assert.equal((await ts.snapshotter.stat(chains[i]!)).parent, chains[i - 1]);
  } finally {
    ts.close();
    removeStoreDir(ts.dir);
  }
});

test('vfs: layers unpack one at a time in layer order, whatever their sizes', async () => {
  const ts = await openStore(undefined, 'vfs');
  try {
    const { tars, diffIDs, config } = await image(3);
    const g = gated(tars, [1, 100, 50]);
    const pulled = registerImage(ts.store, config, g.layers, ['docker.io/library/order:2']);
    for (let i = 0; i < 3; i++) {
      await g.until(i + 1);
      await sleep(200);
      assert.deepEqual(g.opened, [0, 1, 2].slice(0, i + 1));
      g.release(i);
    }
    await pulled;
    const chains = chainIDsOf(diffIDs);
    for (let i = 1; i < 3; i++) assert.equal((await ts.snapshotter.stat(chains[i]!)).parent, chains[i - 1]);
  } finally {
    ts.close();
    removeStoreDir(ts.dir);
  }
});
