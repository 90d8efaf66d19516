// Threads kept once their work is done (idle-threads.ts): taken again instead of started, ended
// after a while unused or when told, and dropped without an uncaught error if one fails idle.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { IdleThreads } from '../../src/archive/idle-threads.js';

const ECHO = `require('node:worker_threads').parentPort.on('message', (m) => {
  if (m === 'fail') setImmediate(() => { throw new Error('failed while idle'); });
  else require('node:worker_threads').parentPort.postMessage(m);
});`;

function pool(max: number, keepMs: number) {
  let started = 0;
  const threads = new IdleThreads(
    () => {
      started++;
      return new Worker(ECHO, { eval: true });
    },
    max,
    keepMs,
  );
  return { threads, started: () => started };
}

/** Runs `fn` with the event loop held open: kept threads and their timers do not hold it. */
async function held(fn: () => Promise<void>): Promise<void> {
  const alive = setInterval(() => {}, 1000);
  try {
    await fn();
  } finally {
    clearInterval(alive);
  }
}

async function echo(w: Worker, m: string): Promise<string> {
  w.postMessage(m);
  const [got] = (await once(w, 'message')) as [string];
  return got;
}

test('a kept thread is taken again instead of a new one; at most `max` are kept', async () => {
  const { threads, started } = pool(1, 60_000);
  const a = threads.take();
  const b = threads.take();
  assert.equal(started(), 2);
  threads.keep(a);
  threads.keep(b); // one more than max: ended at once
  const exited = once(b, 'exit');
  assert.equal(threads.size, 1);
  assert.equal(threads.take(), a);
  assert.equal(started(), 2);
  assert.equal(await echo(a, 'again'), 'again');
  await exited;
  threads.keep(a);
  const ended = (await threads.endAll()) as unknown[];
  assert.equal(ended.length, 1);
  assert.equal(threads.size, 0);
});

test('a thread unused for keepMs ends', () =>
  held(async () => {
    const { threads } = pool(2, 50);
    const w = threads.take();
    threads.keep(w);
    assert.equal(threads.size, 1);
    await once(w, 'exit');
    assert.equal(threads.size, 0);
  }));

test('a thread that fails while idle is dropped, and its error is not an uncaught one', () =>
  held(async () => {
    const { threads, started } = pool(2, 60_000);
    const w = threads.take();
    threads.keep(w);
    // Not events.once: it would reject on the 'error' this test expects the pool to take.
    const exited = new Promise((resolve) => w.once('exit', resolve));
    w.postMessage('fail');
    await exited;
    assert.equal(threads.size, 0);
    await threads.take().terminate();
    assert.equal(started(), 2);
  }));
