// Listing runc's containers at a start: an empty state root is answered without starting runc,
// a state root with an entry still asks runc (which tells live state from leftovers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRuncRuntime } from '../../src/runtime/runc.js';

test('runtime.list starts no runc for an empty state root, and runc for one with an entry', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-runc-list-'));
  try {
    // A runc that logs each call before running the real one.
    const calls = path.join(dir, 'calls');
    const binary = path.join(dir, 'runc');
    fs.writeFileSync(binary, `#!/bin/sh\necho "$@" >> ${calls}\nexec runc "$@"\n`, { mode: 0o755 });
    const stateRoot = path.join(dir, 'state');
    const runtime = createRuncRuntime({ stateRoot, binary });
    const called = () => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : []);

    assert.deepEqual(await runtime.list(), []);
    assert.deepEqual(called(), [], 'no runc started');

    // A state directory without a state.json (what a create killed early leaves): runc is asked.
    fs.mkdirSync(path.join(stateRoot, 'leftover'));
    assert.deepEqual(await runtime.list(), []);
    assert.equal(called().length, 1);
    assert.match(called()[0], /list --format json$/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
