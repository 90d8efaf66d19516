// A layer's source destroyed (with an error or without one) before or right after an unpacking
// call attaches to it: every consumer of it (applyLayer through its lazy entry point, the
// unpacking thread's feeder, peek, the streaming applier) fails at once with the source's error
// or a premature close, instead of waiting for an 'end' or 'error' already emitted or never to
// come, and leaves no worker behind.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { applyLayer as applyStreamed } from '../../src/archive/apply.js';
import { applyLayerOffThread, endIdleWorkers } from '../../src/archive/apply-thread.js';
import { peek } from '../../src/archive/compression.js';
import { applyLayer as applyLazily } from '../../src/archive/lazy.js';
import type { ApplyResult } from '../../src/archive/types.js';
import { makeTar, tempDir } from './helpers.js';

const HANG_MS = 3000;

/** `p`'s outcome, or a failure naming the hang if it has not settled within HANG_MS. */
async function settled<T>(p: Promise<T>, what: string): Promise<{ value: T } | { error: Error }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${HANG_MS} ms`)), HANG_MS);
  });
  try {
    return await Promise.race([p.then((value) => ({ value })), hang]);
  } catch (err) {
    if ((err as Error).message.endsWith(`after ${HANG_MS} ms`)) throw err;
    return { error: err as Error };
  } finally {
    clearTimeout(timer);
  }
}

function threads(): number {
  return readdirSync('/proc/self/task').length;
}

type Consumer = (source: Readable, dir: string) => Promise<unknown>;

const consumers: Array<[string, Consumer]> = [
  ['applyLayer (lazy)', (s, dir) => applyLazily(s, dir, { whiteouts: 'overlay', sync: false })],
  ['applyLayerOffThread', (s, dir) => applyLayerOffThread(s, dir, { whiteouts: 'overlay', sync: false })],
  ['peek', (s) => peek(s, 4096)], // more than the source has yet
  ['the streaming applier', (s, dir) => applyStreamed(s, dir, { whiteouts: 'overlay', sync: false })],
];

// Destroyed before the call (it has emitted its 'error' / 'close' already), right after it
// (before an entry point that awaits first has attached), or once the consumer has attached.
const moments = ['before the call', 'right after the call', 'a moment after the call'] as const;

test('a source destroyed around the call fails every consumer at once and leaves no worker', async () => {
  const tar = await makeTar([{ name: 'a', content: Buffer.alloc(300_000, 1) }]);
  // The baseline: a layer applied on a thread that is then ended (the runtime's own threads are up).
  const warm = tempDir();
  const ok = (await applyLayerOffThread(Readable.from([tar]), warm.path, {
    whiteouts: 'overlay',
    sync: false,
  })) as ApplyResult;
  assert.ok(ok.size > 0);
  warm.cleanup();
  await endIdleWorkers();
  const baseline = threads();
  const problems: string[] = [];

  for (const [name, consume] of consumers) {
    for (const moment of moments) {
      for (const why of [new Error('the registry went away'), undefined]) {
        const what = `${name}, destroyed ${why ? 'with an error' : 'without one'} ${moment}`;
        const t = tempDir();
        try {
          // Some bytes already there, more to come: only the destruction can end it.
          const source = new Readable({ read() {} });
          source.push(tar.subarray(0, 1000));
          source.on('error', () => {}); // the caller's own listener, as the load's and the pull's feeds have
          if (moment === 'before the call') {
            source.destroy(why);
            await new Promise((resolve) => setImmediate(resolve)); // its 'error' and 'close' are out
          }
          const call = consume(source, t.path);
          if (moment === 'right after the call') source.destroy(why);
          if (moment === 'a moment after the call') setTimeout(() => source.destroy(why), 20);
          const r = await settled(call, what).catch((err: Error) => ({ hung: err }));
          if ('hung' in r) problems.push(r.hung.message);
          else if (!('error' in r)) problems.push(`${what}: settled without an error`);
          else if (r.error.message !== (why?.message ?? 'Premature close'))
            problems.push(`${what}: failed with ${JSON.stringify(r.error.message)}`);
        } finally {
          t.cleanup();
        }
      }
    }
  }
  assert.deepEqual(problems, []);
  // Every worker taken was given back once it stopped: ending the idle ones ends them all.
  // (The streaming applier's hashing thread ends on its own, a moment after its apply.)
  await endIdleWorkers();
  for (let i = 0; i < 100 && threads() > baseline; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(threads(), baseline, 'no worker left running');
});
