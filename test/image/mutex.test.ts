// The image store's mutex: one holder at a time in arrival order; a waiter called off leaves the
// queue at once with its signal's reason and never runs, the others keeping their order; a
// signal aborted before the call never runs; one aborted after its turn came changes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Mutex } from '../../src/image/mutex.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('a waiter called off leaves the queue at once, never runs, and the others keep their order', async () => {
  const mutex = new Mutex();
  const ran: string[] = [];
  const held = deferred();
  const holder = mutex.run(async () => {
    ran.push('holder');
    await held.promise;
  });
  const a = mutex.run(() => ran.push('a'));
  const cancel = new AbortController();
  let bSettled = false;
  const b = mutex.run(() => ran.push('b'), cancel.signal);
  b.then(
    () => (bSettled = true),
    () => (bSettled = true),
  );
  const c = mutex.run(() => ran.push('c'));
  await settle();
  assert.equal(mutex.waiters, 3);

  const reason = new Error('the client went away');
  cancel.abort(reason);
  await settle();
  assert.ok(bSettled, 'rejected while the holder still holds the mutex');
  await assert.rejects(b, (err) => err === reason);
  assert.equal(mutex.waiters, 2, 'out of the queue');
  assert.deepEqual(ran, ['holder']);

  held.resolve();
  await Promise.all([holder, a, c]);
  assert.deepEqual(ran, ['holder', 'a', 'c']);
  assert.equal(mutex.waiters, 0);
});

test('a signal aborted before the call fails it without running, free mutex or not', async () => {
  const mutex = new Mutex();
  const reason = new Error('called off');
  let ran = false;
  await assert.rejects(
    mutex.run(() => (ran = true), AbortSignal.abort(reason)),
    (err) => err === reason,
  );
  assert.equal(ran, false);
  // Nothing was left held: the next caller runs at once.
  assert.equal(await mutex.run(() => 'next'), 'next');

  const held = deferred();
  const holder = mutex.run(() => held.promise);
  await assert.rejects(
    mutex.run(() => (ran = true), AbortSignal.abort(reason)),
    (err) => err === reason,
  );
  assert.equal(mutex.waiters, 0, 'never queued');
  held.resolve();
  await holder;
  assert.equal(ran, false);
});

test('a signal aborted once its holder runs changes nothing: it finishes, and the next waiter follows', async () => {
  const mutex = new Mutex();
  const ran: string[] = [];
  const cancel = new AbortController();
  const inside = deferred();
  const go = deferred();
  const holder = mutex.run(async () => {
    inside.resolve();
    await go.promise;
    ran.push('holder');
    return 'done';
  }, cancel.signal);
  const next = mutex.run(() => ran.push('next'));
  await inside.promise;
  cancel.abort(new Error('too late'));
  await settle();
  assert.deepEqual(ran, [], 'the waiter behind still waits for the holder');
  go.resolve();
  assert.equal(await holder, 'done');
  await next;
  assert.deepEqual(ran, ['holder', 'next']);

  // Also when it was queued first and its turn came before the abort.
  const first = deferred();
  const holding = mutex.run(() => first.promise);
  const late = new AbortController();
  const queued = mutex.run(async () => {
    late.abort(new Error('too late'));
    await settle();
    return 'ran';
  }, late.signal);
  first.resolve();
  await holding;
  assert.equal(await queued, 'ran');
});

test('a failing holder hands the mutex on', async () => {
  const mutex = new Mutex();
  await assert.rejects(
    mutex.run(() => {
      throw new Error('boom');
    }),
    /boom/,
  );
  await assert.rejects(
    mutex.run(() => Promise.reject(new Error('boom again'))),
    /boom again/,
  );
  assert.equal(await mutex.run(() => 1), 1);
});
