// The short crash loop: eight SIGKILLs of a daemon busy with loads, creates, runs writing
// into volumes, --rm runs, commits, builds and removals (scripts/crash-loop.mjs; run it with
// --kills 100 for the long version). After every restart nothing acknowledged is lost, nothing
// half-made is listed, nothing is left mounted and `strata system check` finds no fault.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('eight kills at random moments of a busy daemon: no failed restart, lost object, half-made object, leaked mount or orphan', () => {
  const seed = String(Number(process.env.STRATA_CRASH_SEED ?? Date.now() % 100000));
  const r = spawnSync(process.execPath, [path.join(repo, 'scripts/crash-loop.mjs'), '--kills', '8', '--seed', seed], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  const summary = JSON.parse(last || '{}') as Record<string, unknown>;
  const detail = `seed ${seed}:\n${r.stderr}`;
  assert.equal(summary.error, undefined, detail);
  assert.equal(summary.kills, 8, detail);
  for (const k of ['failedRestarts', 'lostObjects', 'halfMade', 'leakedMounts', 'orphans'])
    assert.equal(summary[k], 0, `${k}: ${detail}`);
  assert.equal(r.status, 0, detail);
});
