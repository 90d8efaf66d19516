// A user's docker-py script (Debian's python3-docker) run unchanged against Strata: the same
// script passes against dockerd 20.10 (checked by hand); here it runs against Strata only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

const script = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../test/api/scripts/docker-py-workflow.py',
);
// Debian's interpreter and package, not whatever python3 comes first on PATH.
const python = '/usr/bin/python3';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:dockerpy'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

test('the docker-py workflow script passes unchanged', () => {
  const r = spawnSync(python, [script, d.socket, 'bb:dockerpy'], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.equal(r.stdout.trim(), 'workflow ok');
});
