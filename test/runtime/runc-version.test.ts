// runc's version is read without blocking the daemon's start: the promise gives what
// `runc --version` prints, or undefined when runc cannot be run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { runcVersion } from '../../src/runtime/runc-version.js';

test('runcVersion reads the installed runc, undefined for a missing binary', async () => {
  const printed = /^runc version (\S+)/m.exec(execFileSync('runc', ['--version'], { encoding: 'utf8' }))?.[1];
  assert.ok(printed);
  const pending = runcVersion();
  assert.ok(pending instanceof Promise, 'asynchronous');
  assert.equal(await pending, printed);
  assert.equal(await runcVersion('/nonexistent/runc'), undefined);
});
