// The usage cache's walks can be called off: the daemon's shutdown ends a walk of a large tree
// at its next directory instead of waiting for the whole tree, and a snapshot removed while it
// is walked stops its walk, with nothing logged and no figure kept for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageCache } from '../../src/system/usage-cache.js';
import { UsageWarmer, type WarmedStorage } from '../../src/system/usage-warmer.js';
import { withUsageCache } from '../../src/system/cached-snapshotter.js';
import { EventBus } from '../../src/system/events.js';
import { Activity } from '../../src/system/activity.js';
import { directoryUsage } from '../../src/snapshot/usage.js';
import { NotFound } from '../../src/errors.js';
import type { Logger } from '../../src/util/log.js';
import type { ContainerRecord } from '../../src/container/types.js';
import type { Snapshotter } from '../../src/snapshot/snapshotter.js';
import { makeFixture } from '../snapshot/fixture.js';

/** 20,000 files in 100 directories: ten slices of the walk. */
function largeTree(dir: string): void {
  for (let d = 0; d < 100; d++) {
    fs.mkdirSync(path.join(dir, `d${d}`), { recursive: true });
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(dir, `d${d}`, `f${i}`), 'x');
  }
}

function recordingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const note = (level: string) => (msg: string) => lines.push(`${level}: ${msg}`);
  return { lines, debug: note('debug'), info: note('info'), warn: note('warn'), error: note('error') };
}

function stopped(snapshotKey: string): ContainerRecord {
  return {
    id: snapshotKey.padEnd(64, '0'),
    name: snapshotKey,
    imageId: '',
    imageRef: '',
    snapshotKey,
    rootfsPath: '',
    config: {},
    hostConfig: {},
    mounts: [],
    created: '',
    state: {
      Status: 'exited',
      Running: false,
      Pid: 0,
      ExitCode: 0,
      Error: '',
      StartedAt: '',
      FinishedAt: '',
    },
  };
}

function storage(key: string, snapshotter: Pick<Snapshotter, 'usage'>, log: Logger): WarmedStorage {
  return {
    events: new EventBus(),
    activity: new Activity(),
    log,
    containers: { list: async () => [stopped(key)] },
    snapshotter,
    volumes: { diskUsage: async () => [] },
  };
}

/** What a promise came to, its rejection handled from the start. */
const settled = <T>(p: Promise<T>): Promise<T | unknown> => p.catch((err: unknown) => err);

/** Until `ready` holds, a turn of the event loop at a time (the walk runs in slices between them). */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((r) => setImmediate(r));
}

test("shutdown during a warm-up walk of a large tree calls the walk off; it ends at its next directory, and the shutdown's wait with it", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-walk-abort-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  largeTree(dir);
  let outcome: 'walking' | 'finished' | Error = 'walking';
  // Read through a call: the walk changes it behind the compiler's back.
  const outcomeNow = (): typeof outcome => outcome;
  let started = false;
  const cache = new UsageCache(async (_key, signal) => {
    started = true;
    try {
      const u = await directoryUsage(dir, signal);
      outcome = 'finished';
      return u;
    } catch (err) {
      outcome = err as Error;
      throw err;
    }
  });
  const log = recordingLog();
  const warmer = new UsageWarmer(storage('container-big', { usage: (key) => cache.get(key) }, log), cache);
  const round = warmer.round();
  await until(() => started);
  assert.equal(outcomeNow(), 'walking', 'the walk is under way when the daemon stops');

  await Promise.all([warmer.stop(), cache.close()]);
  const seen = outcomeNow();
  assert.ok(seen instanceof Error && seen.name === 'AbortError', `the walk saw the abort: ${String(seen)}`);
  await round;
  assert.equal(cache.has('container-big'), false, 'no figure is kept for a walk called off');
  assert.deepEqual(log.lines, [], 'nothing is logged for it');
  await assert.rejects(cache.get('container-big'), { name: 'Unavailable' }, 'no walk starts after the shutdown');
  // The whole tree, walked to its end, for scale.
  assert.equal((await directoryUsage(dir)).inodes, 20_101);
});

test('a snapshot removed while the warm-up walks it: the walk stops, nothing is logged, no figure is kept', async (t) => {
  const fx = await makeFixture('overlay2');
  t.after(() => fx.close());
  const { snapshotter, cache } = withUsageCache(fx.sn);
  const key = 'container-removed';
  await snapshotter.prepare(key);
  largeTree((await snapshotter.applyTarget(key)).dir);
  const log = recordingLog();
  const warmer = new UsageWarmer(storage(key, snapshotter, log), cache);

  const round = warmer.round();
  await until(() => cache.has(key));
  // A `system df` that asks meanwhile shares the warm-up's walk.
  const df = settled(snapshotter.usage(key));
  const removed = snapshotter.remove(key);
  // One that asks while the directory is being deleted gets no walk of a half-deleted tree.
  const during = settled(snapshotter.usage(key));
  await removed;
  await round;
  assert.equal(((await df) as Error).name, 'AbortError', 'the walk under way was called off');
  assert.ok((await during) instanceof NotFound, 'no walk starts during the removal');
  assert.equal(cache.has(key), false, 'no figure is kept for the removed snapshot');
  assert.deepEqual(log.lines, [], 'nothing is logged');
  await assert.rejects(snapshotter.usage(key), (err) => err instanceof NotFound, 'and it is gone');
  assert.equal(cache.has(key), false);
});
