// Label and until filters through the docker CLI, as Docker answers them: a label named like an
// Object.prototype member matches only containers that carry it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  const r = spawnSync('docker', ['load'], {
    input: await busyboxArchive('lf:latest'),
    env: { ...process.env, DOCKER_HOST: d.host },
  });
  assert.equal(r.status, 0, String(r.stderr));
});
after(async () => {
  await d.stop();
});

test('ps --filter label=constructor lists only the container that has it; prune label!=constructor removes the others', () => {
  assert.equal(d.docker(['create', '--name', 'plain', 'lf', 'true']).status, 0);
  assert.equal(d.docker(['create', '--name', 'marked', '--label', 'constructor=x', 'lf', 'true']).status, 0);

  const ps = d.docker(['ps', '-a', '--filter', 'label=constructor', '--format', '{{.Names}}']);
  assert.equal(ps.status, 0, ps.stderr);
  assert.equal(ps.stdout.trim(), 'marked');
  const toString = d.docker(['ps', '-a', '--filter', 'label=toString', '--format', '{{.Names}}']);
  assert.equal(toString.stdout.trim(), '');

  const prune = d.docker(['container', 'prune', '-f', '--filter', 'label!=constructor']);
  assert.equal(prune.status, 0, prune.stderr);
  const left = d.docker(['ps', '-a', '--format', '{{.Names}}']);
  assert.equal(left.stdout.trim(), 'marked');
});

test("prune until: a Go duration, and Docker's error for a value that is none of its forms", () => {
  const ok = d.docker(['container', 'prune', '-f', '--filter', 'until=1h30m']);
  assert.equal(ok.status, 0, ok.stderr);
  const bad = d.docker(['container', 'prune', '-f', '--filter', 'until=foo']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /failed to parse value as time or duration: "foo"/);
  const badImage = d.docker(['image', 'prune', '-f', '--filter', 'until=foo']);
  assert.match(badImage.stderr, /failed to parse value as time or duration: "foo"/);
});
