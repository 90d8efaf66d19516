// The daemon gives memory back once a burst of work has ended and nothing new started for a
// moment: after every heavy operation, after requests only when it grew past a slack, never
// while anything is in flight; five seconds later it collects once more if still quiet.
import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryReleaser, type MemoryHooks } from '../../src/util/release-memory.js';
import { Activity } from '../../src/system/activity.js';

const MiB = 1 << 20;
const timing = { quietMs: 1000, settleMs: 5500, slackBytes: 16 * MiB };

/** A releaser following requests, past the release that ends its start-up (counted apart). */
async function setup(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const calls: string[] = [];
  const memory: MemoryHooks & { resident: number } = {
    resident: 70 * MiB,
    collect: () => calls.push('collect'),
    trim: () => calls.push('trim'),
    rss: () => memory.resident,
  };
  const releaser = new MemoryReleaser(memory, timing);
  const activity = new Activity();
  releaser.follow(activity);
  // A release runs its hooks' promises out before collecting: let those settle after each tick.
  const tick = async (ms: number) => {
    t.mock.timers.tick(ms);
    await new Promise((r) => setImmediate(r));
  };
  await tick(timing.quietMs);
  await tick(timing.settleMs);
  assert.deepEqual(calls, ['collect', 'trim', 'collect', 'trim'], 'the start-up was a burst of its own');
  calls.length = 0;
  const counts = () => ({ releases: releaser.releases - 1, settled: releaser.settled - 1 });
  return { calls, memory, releaser, activity, tick, counts };
}

test('a heavy operation that ends is followed by a release once nothing ran for a moment, and a second collection later', async (t) => {
  const { calls, releaser, tick, counts } = await setup(t);
  const done = releaser.heavyOperation();
  await tick(5000);
  assert.deepEqual(calls, [], 'nothing while the operation runs');
  done();
  await tick(999);
  assert.deepEqual(calls, [], 'not before the quiet moment');
  await tick(1);
  assert.deepEqual(calls, ['collect', 'trim']);
  assert.equal(counts().releases, 1);
  await tick(5499);
  assert.equal(counts().settled, 0);
  await tick(1);
  assert.deepEqual(calls, ['collect', 'trim', 'collect', 'trim'], 'collected again once V8 sees no allocation');
  assert.equal(counts().settled, 1);
  await tick(60_000);
  assert.equal(calls.length, 4, 'and nothing more while nothing happens');
  done();
  await tick(60_000);
  assert.equal(calls.length, 4, 'ending an operation twice counts once');
});

test('requests in flight hold the release back; a request that starts in the quiet moment starts it again', async (t) => {
  const { calls, releaser, activity, tick, counts } = await setup(t);
  const done = releaser.heavyOperation();
  const request = activity.begin();
  done();
  await tick(10_000);
  assert.deepEqual(calls, [], 'the request that ran the operation is still being answered');
  request();
  await tick(600);
  const next = activity.begin();
  await tick(600);
  next();
  await tick(999);
  assert.deepEqual(calls, [], 'the quiet moment counts from the last request');
  await tick(1);
  assert.deepEqual(calls, ['collect', 'trim']);
  const late = activity.begin();
  await tick(10_000);
  late();
  assert.equal(counts().settled, 0, 'a request during the wait for the second collection cancels it');
});

test('a burst of requests earns a release when the daemon grew past the slack, not otherwise', async (t) => {
  const { calls, memory, activity, tick, counts } = await setup(t);
  for (let i = 0; i < 50; i++) activity.begin()();
  memory.resident += 15 * MiB;
  await tick(2000);
  assert.deepEqual(calls, [], 'grown by less than the slack: nothing to give back');
  activity.begin()();
  memory.resident += 2 * MiB;
  await tick(1000);
  assert.deepEqual(calls, ['collect', 'trim'], 'grown past it: released');
  memory.resident = 80 * MiB;
  await tick(timing.settleMs);
  assert.equal(counts().settled, 1);
  // The floor is now what the release left: growth is counted from there.
  activity.begin()();
  memory.resident = 95 * MiB;
  await tick(2000);
  assert.equal(counts().releases, 1, '15 MiB over the new floor');
  await tick(60_000);
  memory.resident = 200 * MiB;
  await tick(60_000);
  assert.equal(counts().releases, 1, 'no request, no heavy operation: no release however large');
  activity.begin()();
  await tick(1000);
  assert.equal(counts().releases, 2);
});

test('release hooks run before the collection; one that returns false is dropped, one that throws is kept', async (t) => {
  const { calls, releaser, tick } = await setup(t);
  let once = 0;
  releaser.onRelease(() => {
    calls.push('hook');
  });
  releaser.onRelease(() => {
    once++;
    return false;
  });
  releaser.onRelease(() => {
    calls.push('throws');
    throw new Error('closed');
  });
  releaser.heavyOperation()();
  await tick(1000);
  assert.deepEqual(calls, ['hook', 'throws', 'collect', 'trim']);
  await tick(timing.settleMs);
  releaser.heavyOperation()();
  await tick(1000);
  assert.equal(once, 1, 'a hook that said it is done ran once');
  assert.deepEqual(calls.slice(-4), ['hook', 'throws', 'collect', 'trim']);
});

test('without requests followed, only heavy operations release (as in rooms used on their own)', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let collected = 0;
    const releaser = new MemoryReleaser(
      { collect: () => collected++, trim: () => undefined, rss: () => 1 << 40 },
      timing,
    );
    await tickAll(60_000);
    assert.equal(collected, 0);
    const a = releaser.heavyOperation();
    const b = releaser.heavyOperation();
    a();
    await tickAll(5000);
    assert.equal(collected, 0, 'one of two still runs');
    b();
    await tickAll(1000);
    assert.equal(collected, 1);
  } finally {
    mock.timers.reset();
  }
});

async function tickAll(ms: number): Promise<void> {
  mock.timers.tick(ms);
  await new Promise((r) => setImmediate(r));
}

test('a hook that ends something is waited for before the collection', async (t) => {
  const { calls, releaser, tick, counts } = await setup(t);
  let stop: () => void = () => undefined;
  releaser.onRelease(
    () =>
      new Promise<void>((resolve) => {
        stop = () => {
          calls.push('stopped');
          resolve();
        };
      }),
  );
  releaser.heavyOperation()();
  await tick(1000);
  assert.deepEqual(calls, [], 'the thread has not stopped yet: nothing collected');
  stop();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, ['stopped', 'collect', 'trim']);
  await tick(timing.settleMs);
  assert.equal(counts().settled, 1, 'the second collection counts from the end of the release');
});
