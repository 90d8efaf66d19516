// The kept system df answer: sent again while nothing it shows moved, built again after any
// metadata write, event, usage figure change or the time its STATUS texts turn over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { KeptAnswers } from '../../src/api/kept-answer.js';
import { EventBus } from '../../src/system/events.js';
import { UsageCache } from '../../src/system/usage-cache.js';
import type { MetaDb } from '../../src/meta/db.js';
import { statusChangesAt, statusText } from '../../src/container/view.js';
import type { ContainerRecord } from '../../src/container/types.js';

function setup(): { kept: KeptAnswers; db: MetaDb; events: EventBus; usageCache: UsageCache; builds: () => number } {
  const db = new Database(':memory:') as MetaDb;
  db.exec('CREATE TABLE t (x INTEGER)');
  const events = new EventBus();
  const usageCache = new UsageCache(async () => ({ size: 1, inodes: 1 }), 50);
  const kept = new KeptAnswers({ db, events, usageCache });
  let n = 0;
  return { kept, db, events, usageCache, builds: () => n++ };
}

test('the answer is built once while nothing changes, and again after a row write, an event or a usage change', async () => {
  const { kept, db, events, usageCache, builds } = setup();
  const build = async () => ({ value: { n: builds() }, until: Infinity });
  const first = await kept.get('', build);
  assert.equal(first.toString(), '{"n":0}\n');
  assert.equal(await kept.get('', build), first, 'nothing changed: the same bytes');
  db.prepare('INSERT INTO t VALUES (1)').run();
  assert.equal((await kept.get('', build)).toString(), '{"n":1}\n', 'a row written');
  assert.equal((await kept.get('', build)).toString(), '{"n":1}\n');
  events.emitEvent('volume', 'create', 'v');
  assert.equal((await kept.get('', build)).toString(), '{"n":2}\n', 'an event');
  await usageCache.get('layer');
  assert.equal((await kept.get('', build)).toString(), '{"n":2}\n', 'a figure taken where there was none');
  usageCache.invalidate('layer');
  assert.equal((await kept.get('', build)).toString(), '{"n":3}\n', 'a figure dropped');
  assert.equal((await kept.get('type=volume', build)).toString(), '{"n":4}\n', 'each key has its own answer');
  assert.equal((await kept.get('', build)).toString(), '{"n":3}\n');
});

test('an answer is not kept past its own time limit, nor past a running figure expiring', async () => {
  const { kept, usageCache, builds } = setup();
  const past = async () => ({ value: builds(), until: Date.now() - 1 });
  assert.equal((await kept.get('', past)).toString(), '0\n');
  assert.equal((await kept.get('', past)).toString(), '1\n', 'its STATUS texts turned over: built again');
  const forever = async () => {
    await usageCache.get('running');
    return { value: builds(), until: Infinity };
  };
  usageCache.setLive('running', true);
  assert.equal((await kept.get('', forever)).toString(), '2\n');
  assert.equal((await kept.get('', forever)).toString(), '2\n', 'the figure the build took: kept');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal((await kept.get('', forever)).toString(), '3\n', 'the running figure is older than its age limit');
  assert.equal((await kept.get('', forever)).toString(), '4\n', 'the build replaced a figure: built again');
  assert.equal((await kept.get('', forever)).toString(), '4\n');
});

test("a container's STATUS text reads the same until statusChangesAt", () => {
  const now = Date.parse('2026-01-10T12:00:00.000Z');
  const rec = (status: string, since: number) =>
    ({
      state: {
        Status: status,
        ExitCode: 0,
        StartedAt: new Date(since - 10_000).toISOString(),
        FinishedAt: new Date(since).toISOString(),
      },
    }) as unknown as ContainerRecord;
  const elapsed = [0, 400, 999, 1000, 59_500, 61_000, 3_599_000, 5_399_990, 86_400_000 * 3.2, 86_400_000 * 400.7];
  for (const status of ['exited', 'running', 'restarting']) {
    for (const e of elapsed) {
      const r = rec(status, status === 'running' ? now - e + 10_000 : now - e);
      const until = statusChangesAt(r, now);
      assert.ok(until > now, `${status} ${e}: a time to come`);
      const text = statusText(r, now);
      for (const t of [now + 1, (now + until) / 2, until - 1].filter((t) => t < until))
        assert.equal(statusText(r, Math.floor(t)), text, `${status} after ${e} ms: same text at ${t - now} ms on`);
    }
  }
  assert.equal(statusChangesAt(rec('created', now), now), Infinity);
  const exited = rec('exited', now - 5_400_000 + 30_000);
  assert.notEqual(statusText(exited, statusChangesAt(exited, now) + 30 * 60_000), statusText(exited, now));
});
