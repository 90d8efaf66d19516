// The usage warm-up walks what `system df` will need while nothing else happens: stopped
// containers' layers and local volumes without a figure, never running containers, and it
// gives way as soon as an event arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageCache } from '../../src/system/usage-cache.js';
import { UsageWarmer } from '../../src/system/usage-warmer.js';
import { EventBus } from '../../src/system/events.js';
import { silentLogger } from '../../src/util/log.js';
import type { WarmedStorage } from '../../src/system/usage-warmer.js';
import type { ContainerRecord } from '../../src/container/types.js';
import { Activity } from '../../src/system/activity.js';

function record(snapshotKey: string, running: boolean): ContainerRecord {
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
      Status: running ? 'running' : 'exited',
      Running: running,
      Pid: 0,
      ExitCode: 0,
      Error: '',
      StartedAt: '',
      FinishedAt: '',
    },
  };
}

function fixture() {
  const walks: string[] = [];
  let gate: Promise<void> | undefined;
  const cache = new UsageCache(async (key) => {
    walks.push(key);
    await gate;
    return { size: 1, inodes: 1 };
  });
  const events = new EventBus();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-warm-'));
  fs.writeFileSync(path.join(dir, 'f'), 'abc');
  const volumesWalked: string[] = [];
  const activity = new Activity();
  const engine: WarmedStorage = {
    events,
    activity,
    log: silentLogger,
    containers: {
      list: async () => [record('container-stopped', false), record('container-running', true)],
    },
    snapshotter: { usage: (key: string) => cache.get(key) },
    volumes: {
      diskUsage: async (sizeOf: (name: string, dir: string) => Promise<number>) => {
        for (const name of ['v1', 'v2']) {
          try {
            await sizeOf(name, dir);
            volumesWalked.push(name);
          } catch {
            /* as the service: skipped */
          }
        }
        return [];
      },
    },
  };
  return {
    cache,
    walks,
    events,
    engine,
    volumesWalked,
    activity,
    hold: () => {
      let open!: () => void;
      gate = new Promise((r) => {
        open = r;
      });
      return () => {
        gate = undefined;
        open();
      };
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

test('a round walks stopped containers and volumes once, never a running container', async (t) => {
  const f = fixture();
  t.after(f.cleanup);
  const warmer = new UsageWarmer(f.engine, f.cache);
  await warmer.round();
  assert.deepEqual(f.walks, ['container-stopped']);
  assert.deepEqual(f.volumesWalked, ['v1', 'v2']);
  assert.equal(f.cache.has('volume:v1'), true);
  assert.equal((await f.cache.get('volume:v1')).size, 3);
  await warmer.round();
  assert.deepEqual(f.walks, ['container-stopped'], 'what is at hand is not walked again');
});

test('an event during a round ends it; the next quiet moment finishes the work', async (t) => {
  const f = fixture();
  t.after(f.cleanup);
  const warmer = new UsageWarmer(f.engine, f.cache, 20);
  const release = f.hold();
  warmer.start();
  while (f.walks.length === 0) await new Promise((r) => setTimeout(r, 5));
  f.events.emitEvent('container', 'create', 'x');
  release();
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(f.volumesWalked, [], 'the round gave way before the volumes');
  while (f.volumesWalked.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(f.walks, ['container-stopped']);
  warmer.stop();
});

test('nothing is walked while a request is in flight; its end starts the wait for quiet', async (t) => {
  const f = fixture();
  t.after(f.cleanup);
  const warmer = new UsageWarmer(f.engine, f.cache, 20);
  const end = f.activity.begin();
  await warmer.round();
  assert.deepEqual(f.walks, []);
  assert.deepEqual(f.volumesWalked, []);
  warmer.start();
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(f.walks, [], 'still in flight: no round');
  end();
  while (f.volumesWalked.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(f.walks, ['container-stopped']);
  warmer.stop();
});
