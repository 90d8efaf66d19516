// A daemon that does not come up in time is ended by startDaemon, which leaves none of its
// scratch state behind and shows the daemon's log in its error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { DaemonStartError, startDaemon } from './daemon.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is gone for good; only its exit status waits to be read.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
};

test('a daemon that does not answer /_ping in time is killed and its state removed', async () => {
  // No daemon answers within a millisecond of its start.
  const err = await startDaemon([], { startTimeoutMs: 1 }).then(
    () => assert.fail('the start should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DaemonStartError, String(err));
  assert.match(err.message, /did not answer \/_ping within 1 ms; its log:/);
  assert.ok(err.pid !== undefined);
  assert.equal(alive(err.pid), false, `daemon ${err.pid} still runs`);
  assert.equal(fs.existsSync(err.dir), false, `${err.dir} is left`);
  const mounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${err.dir}`);
  assert.equal(mounted, false, `mounts under ${err.dir} are left`);
});

test('a daemon that exits at its start says why, with its log', async () => {
  const err = await startDaemon(['--no-such-flag']).then(
    () => assert.fail('the start should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DaemonStartError, String(err));
  assert.match(err.message, /exited \(exit code \d+\) before answering \/_ping; its log:\n.*no-such-flag/s);
  assert.equal(fs.existsSync(err.dir), false);
});
