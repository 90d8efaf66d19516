// The shutdown's bound, without a daemon: an orderly path that never ends is forced when the
// watchdog fires (after the containers' stop timeouts plus the margin) and says what it was
// waiting for; a second signal forces at once; a finished shutdown exits 0 and forces nothing.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createShutdown, SHUTDOWN_MARGIN_SECONDS } from '../../src/system/shutdown.js';
import type { Logger } from '../../src/util/log.js';

function recorder() {
  const lines: string[] = [];
  const log: Logger = {
    debug() {},
    info: (m) => lines.push(m),
    warn: (m) => lines.push(m),
    error: (m) => lines.push(m),
  };
  return { lines, log };
}

test('a stuck shutdown is forced when the watchdog fires, naming what was pending', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { lines, log } = recorder();
    const exits: number[] = [];
    let forced = 0;
    const h = createShutdown({
      log,
      graceSeconds: () => 5,
      force: () => {
        forced++;
      },
      exit: (c) => {
        exits.push(c);
      },
      graceful: (pending) => pending.track('stopping containers: stubborn', new Promise<void>(() => undefined)),
    });
    h.signal('SIGTERM');
    mock.timers.tick((5 + SHUTDOWN_MARGIN_SECONDS) * 1000 - 1);
    assert.deepEqual(exits, [], 'not before the bound');
    mock.timers.tick(1);
    assert.deepEqual(exits, [1]);
    assert.equal(forced, 1);
    assert.ok(
      lines.some((l) => /did not finish within 20s.*stopping containers: stubborn/.test(l)),
      lines.join('\n'),
    );
    h.signal('SIGTERM');
    assert.deepEqual(exits, [1], 'nothing happens after the exit');
  } finally {
    mock.timers.reset();
  }
});

test('a second signal forces at once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const exits: number[] = [];
  let forced = 0;
  const h = createShutdown({
    log: recorder().log,
    graceSeconds: () => 120,
    force: () => {
      forced++;
    },
    exit: (c) => {
      exits.push(c);
    },
    graceful: () => new Promise<void>(() => undefined),
  });
  h.signal('SIGTERM');
  assert.deepEqual(exits, []);
  h.signal('SIGINT');
  assert.deepEqual(exits, [130]);
  assert.equal(forced, 1);
});

test('an orderly shutdown exits 0 and forces nothing; a failing one is forced', async () => {
  const exits: number[] = [];
  let forced = 0;
  createShutdown({
    log: recorder().log,
    graceSeconds: () => 0,
    force: () => {
      forced++;
    },
    exit: (c) => {
      exits.push(c);
    },
    graceful: async () => undefined,
  }).signal('SIGTERM');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(exits, [0]);
  assert.equal(forced, 0);
  createShutdown({
    log: recorder().log,
    graceSeconds: () => 0,
    force: () => {
      forced++;
    },
    exit: (c) => {
      exits.push(c);
    },
    graceful: async () => {
      throw new Error('db');
    },
  }).signal('SIGTERM');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(exits, [0, 1]);
  assert.equal(forced, 1);
});
