// The bytes of a layer on their way to its apply: held in memory with the connection paused while
// the network keeps up, written ahead into a scratch file once it does not, given back in order
// either way, and stopped (file removed) when the pull lets go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { HEAD_BYTES, LayerFeed, NetworkPace, networkIsTheLimit } from '../../src/distribution/layer-feed.js';
import { cpuIsTheLimit, daemonCpuDemand } from '../../src/distribution/cpu-demand.js';

/** A daemon that wants no CPU: waiting on the sockets is the network's doing. */
const idle = () => 0;

const turn = () => Promise.resolve(() => {});

/**
 * A source of `data` in 64 KiB chunks that counts what it gave and notes when it was stopped;
 * with `holdAt`, it gives no more than that many bytes until `release` is called.
 */
function source(data: Buffer, holdAt = Infinity) {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const s = {
    given: 0,
    stopped: false,
    release,
    async *chunks(): AsyncGenerator<Buffer> {
      try {
        for (let o = 0; o < data.length; o += 64 << 10) {
          await new Promise((r) => setImmediate(r));
          if (o >= holdAt) await held;
          const c = data.subarray(o, o + (64 << 10));
          s.given += c.length;
          yield c;
        }
      } finally {
        if (s.given < data.length) s.stopped = true;
      }
    },
  };
  return s;
}

async function bytesOf(input: Readable | { file: string }): Promise<Buffer> {
  if (!('pipe' in input)) return fs.readFileSync(input.file);
  const out: Buffer[] = [];
  for await (const c of input) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** Resolves once `cond` holds, checked after each turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

test('the network is the limit only after a second of waiting that is over half the time', () => {
  assert.equal(networkIsTheLimit(600, 1000), false, 'a first-byte latency');
  assert.equal(networkIsTheLimit(1200, 4000), false, 'a quarter of the time');
  assert.equal(networkIsTheLimit(1200, 2000), true);
});

test('the daemon is short of CPU when it wanted more than a core all along', () => {
  assert.equal(cpuIsTheLimit(2500, 2000), true, 'two layers unpacking');
  assert.equal(cpuIsTheLimit(400, 2000), false, 'unpacking starved of bytes');
});

test("the daemon's CPU demand counts the CPU time its threads use", () => {
  const before = daemonCpuDemand();
  const until = performance.now() + 100;
  while (performance.now() < until);
  const used = daemonCpuDemand() - before;
  assert.ok(used >= 90, `a 100 ms busy loop counted as ${used} ms`);
});

test('waiting on the sockets while the daemon is short of CPU does not make the network the limit', () => {
  let demand = 0;
  const pace = new NetworkPace(() => demand);
  const applying = {};
  pace.started(applying);
  // The daemon wanted two cores all along (its threads ran, or waited for a core).
  demand = 10_000;
  pace.waited(applying, 5000);
  assert.equal(pace.networkBound, false);
  // The same waits with a daemon that wanted little CPU: the network is the limit.
  const starved = new NetworkPace(idle);
  starved.started(applying);
  starved.waited(applying, 5000);
  assert.equal(starved.networkBound, true);
});

test('a waiting layer holds a bounded head, writes no file, and gives its bytes back in order', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-'));
  try {
    const data = randomBytes(8 << 20);
    const src = source(data);
    const feed = new LayerFeed(() => src.chunks(), {
      scratch: path.join(dir, 'scratch'),
      pace: new NetworkPace(idle),
      turn,
    });
    // Its connection pauses once the head is full: nothing beyond it is read.
    await until(() => src.given >= HEAD_BYTES);
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    assert.ok(src.given < HEAD_BYTES + (128 << 10), `read ${src.given} bytes ahead`);
    const got = await bytesOf(await feed.open());
    assert.ok(got.equals(data));
    await feed.done;
    await feed.close();
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('once the network is the limit a waiting layer is fetched ahead into its scratch file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-'));
  try {
    const pace = new NetworkPace(idle);
    const whole = randomBytes(4 << 20);
    const part = randomBytes(4 << 20);
    const a = source(whole);
    const b = source(part, HEAD_BYTES * 2);
    const ahead = new LayerFeed(() => a.chunks(), { scratch: path.join(dir, 'a'), pace, turn });
    const partly = new LayerFeed(() => b.chunks(), { scratch: path.join(dir, 'b'), pace, turn });
    // Layers being applied waited on their connections most of the time.
    const applying = {};
    pace.started(applying);
    pace.waited(applying, 5000);
    assert.equal(pace.networkBound, true);
    await ahead.done;
    assert.ok(fs.statSync(path.join(dir, 'a')).size === whole.length, 'fetched ahead whole');
    // Fetched whole: the unpacking thread reads the file itself.
    const input = await ahead.open();
    assert.ok(!('pipe' in input));
    assert.ok((await bytesOf(input)).equals(whole));
    // A layer applied again (its files could not give its tar back) reads the same file.
    assert.equal(ahead.again()?.file, input.file);
    // Opened while still arriving: the file's bytes, then the connection's.
    await until(() => b.given >= HEAD_BYTES * 2);
    const stream = await partly.open();
    b.release();
    assert.ok('pipe' in stream);
    assert.ok((await bytesOf(stream)).equals(part));
    assert.equal(partly.again(), undefined, 'a file of part of the blob given again');
    await ahead.close();
    await partly.close();
    assert.deepEqual(fs.readdirSync(dir), [], 'scratch files left');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a feed closed before its apply stops its download and removes its file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-'));
  try {
    const pace = new NetworkPace(idle);
    const src = source(randomBytes(8 << 20));
    const feed = new LayerFeed(() => src.chunks(), { scratch: path.join(dir, 's'), pace, turn });
    const applying = {};
    pace.started(applying);
    pace.waited(applying, 5000);
    await until(() => fs.existsSync(path.join(dir, 's')) && src.given > HEAD_BYTES);
    await feed.close();
    assert.equal(src.stopped, true, 'the download went on');
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a download that fails after its apply began fails the apply's stream with its error", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-'));
  try {
    const data = randomBytes(2 << 20);
    const feed = new LayerFeed(
      async function* () {
        yield data.subarray(0, 1 << 20);
        await new Promise((r) => setImmediate(r));
        throw new Error('filesystem layer verification failed');
      },
      { scratch: path.join(dir, 's'), pace: new NetworkPace(idle), turn },
    );
    const input = await feed.open();
    await assert.rejects(bytesOf(input), /verification failed/);
    await feed.close();
    assert.deepEqual(fs.readdirSync(dir), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an apply that stops reading early stops the download', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'feed-'));
  try {
    const src = source(randomBytes(8 << 20));
    const feed = new LayerFeed(() => src.chunks(), {
      scratch: path.join(dir, 's'),
      pace: new NetworkPace(idle),
      turn,
    });
    const input = await feed.open();
    assert.ok('pipe' in input);
    let got = 0;
    for await (const c of input) {
      got += (c as Buffer).length;
      if (got >= 1 << 20) break;
    }
    await feed.done.catch(() => {});
    assert.equal(src.stopped, true, 'the download went on');
    await feed.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
