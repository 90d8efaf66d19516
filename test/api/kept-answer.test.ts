// The kept system df answer: sent again while nothing it shows moved, built again after any
// metadata write, event, usage figure change or past its time, with its aging texts fresh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { KeptAnswers } from '../../src/api/kept-answer.js';
import { EventBus } from '../../src/system/events.js';
import { UsageCache } from '../../src/system/usage-cache.js';
import type { MetaDb } from '../../src/meta/db.js';

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
  assert.equal((await kept.get('', past)).toString(), '1\n', 'past its own time: built again');
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

test('texts that age by themselves are written afresh into each send of a kept answer', async () => {
  const { kept, builds } = setup();
  let tick = 0;
  const build = async (late: (text: () => string) => string) => ({
    value: {
      n: builds(),
      list: [{ Status: late(() => `up ${tick}`), Name: 'a' }, { Status: late(() => `<${tick}>`) }],
    },
    until: Infinity,
  });
  assert.equal(
    (await kept.get('', build)).toString(),
    '{"n":0,"list":[{"Status":"up 0","Name":"a"},{"Status":"<0>"}]}\n',
  );
  tick = 7;
  assert.equal(
    (await kept.get('', build)).toString(),
    '{"n":0,"list":[{"Status":"up 7","Name":"a"},{"Status":"<7>"}]}\n',
    'the same kept answer (n), its holes filled again',
  );
});

test('answers that no longer hold are let go when memory is given back; one that still holds is kept', async () => {
  const { kept, db, builds } = setup();
  const build = async () => ({ value: { n: builds() }, until: Infinity });
  await kept.get('', build);
  await kept.get('type=volume', build);
  kept.dropStale();
  assert.equal(kept.size, 2, 'nothing moved: both kept');
  const first = await kept.get('', build);
  assert.equal(first.toString(), '{"n":0}\n', 'and still sent as they were');
  db.prepare('INSERT INTO t VALUES (1)').run();
  kept.dropStale();
  assert.equal(kept.size, 0, 'a row written: neither holds');
  await kept.get('', async () => ({ value: builds(), until: Date.now() - 1 }));
  kept.dropStale();
  assert.equal(kept.size, 0, 'past its own time');
});
