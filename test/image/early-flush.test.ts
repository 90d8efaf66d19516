// Writeback started while layers unpack: background syncfs calls run only while an apply holds
// them, one at a time, none while an ingest may hold a staged copy, and none is left running once
// a pull's transaction has ended (stored or rolled back).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { test } from 'node:test';
import { EarlyFlush, FlushWhileExtracting } from '../../src/image/early-flush.js';
import { registerImage, type IncomingLayer } from '../../src/image/register.js';
import { makeTar } from '../archive/helpers.js';
import { openStore, removeStoreDir } from './store-helper.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('background flushes run while held, a few times a second, and stop once released', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-flush-'));
  try {
    const f = new EarlyFlush(dir);
    assert.equal(f.busy, false);
    const release = f.hold();
    assert.equal(f.busy, true);
    await sleep(700);
    const during = f.started;
    assert.ok(during >= 2 && during <= 4, `flushes started while held: ${during}`);
    release();
    await f.idle();
    assert.equal(f.busy, false, 'nothing left running or due once released');
    await sleep(400);
    assert.equal(f.started, during, 'no flush starts after the release');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a round is left out while the skip says so (an ingest exists)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-flush-'));
  try {
    let skip = true;
    const f = new EarlyFlush(dir, () => skip);
    const release = f.hold();
    await sleep(600);
    assert.equal(f.started, 0);
    skip = false;
    await sleep(400);
    assert.ok(f.started >= 1, 'flushes resume once nothing is to skip');
    release();
    await f.idle();
    assert.equal(f.busy, false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the map of extractions holds the flush while it has entries', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-flush-'));
  try {
    const f = new EarlyFlush(dir);
    const m = new FlushWhileExtracting<number>(() => f);
    m.set('a', 1);
    m.set('b', 2);
    assert.equal(f.busy, true);
    m.delete('a');
    assert.equal(f.busy, true, 'one extraction is still running');
    m.delete('b');
    await f.idle();
    assert.equal(f.busy, false);
    m.set('c', 3);
    assert.equal(f.busy, true);
    m.clear();
    await f.idle();
    assert.equal(f.busy, false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function image(n: number) {
  const tars = await Promise.all(
    Array.from({ length: n }, (_, i) => makeTar([{ name: `layer${i}/file`, content: `layer ${i}\n`.repeat(1000) }])),
  );
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: tars.map(sha) } }),
  );
  return { tars, config };
}

test('overlay2: a pull flushes in the background while its layers unpack, and nothing runs once it is stored or rolled back', async (t) => {
  const ts = await openStore();
  try {
    if (!ts.snapshotter.appliesApart) return t.skip('the snapshotter applies one layer at a time');
    const flush = ts.store.layers.earlyFlush!;
    const { tars, config } = await image(2);
    const streams: PassThrough[] = [];
    const layers: IncomingLayer[] = tars.map((tar, i) => ({
      async open(): Promise<Readable> {
        const s = new PassThrough();
        s.write(tar.subarray(0, 512));
        streams[i] = s;
        return s;
      },
    }));
    const pulled = registerImage(ts.store, config, layers, ['docker.io/library/flush:1']);
    await sleep(700);
    assert.ok(flush.started >= 1, 'a background flush ran while the layers were unpacking');
    tars.forEach((tar, i) => streams[i]!.end(tar.subarray(512)));
    await pulled;
    assert.equal(flush.busy, false, 'no background flush left once the image is stored');

    // A pull that fails rolls back with none left either.
    const { tars: more, config: config2 } = await image(3);
    const bad: IncomingLayer[] = more.map((tar, i) => ({
      async open(): Promise<Readable> {
        const s = new PassThrough();
        if (i === 2) {
          s.write(tar.subarray(0, 512));
          setTimeout(() => s.destroy(new Error('connection reset')), 600);
        } else s.end(tar);
        return s;
      },
    }));
    await assert.rejects(registerImage(ts.store, config2, bad, ['docker.io/library/flush:2']), /connection reset/);
    assert.equal(flush.busy, false, 'no background flush left after the rollback');
  } finally {
    ts.close();
    removeStoreDir(ts.dir);
  }
});
