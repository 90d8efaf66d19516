// docker cp out of a stopped container from several clients at once: each copy finds the file
// (a copy that arrived while another was still mounting the rootfs used to read the empty mount
// point and answer "Could not find the file"), and nothing stays mounted afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, mountsUnder, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:cpcon'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => {
  await d?.stop();
});

test('concurrent copies out of a stopped container all find the file', async () => {
  assert.equal(d.docker(['run', '--name', 'cpc', 'bb:cpcon', 'sh', '-c', 'echo hi > /tmp/f']).status, 0);
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        d.request(i % 2 ? 'HEAD' : 'GET', '/v1.41/containers/cpc/archive?path=/tmp/f'),
      ),
    );
    // dockerd 20.10 answers every one of them 200.
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(10).fill(200),
    );
  }
  // A GET's response ends before its copy lets go of the rootfs: give the last one its moment.
  const containers = path.join(d.dataRoot, 'containers');
  for (let i = 0; i < 200 && mountsUnder(containers).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(mountsUnder(containers), []);
  assert.equal(d.docker(['rm', 'cpc']).status, 0);
});

test('a path under a file is "not a directory", as dockerd says, not a missing file', async () => {
  assert.equal(d.docker(['run', '--name', 'cpnd', 'bb:cpcon', 'sh', '-c', 'echo hi > /tmp/f']).status, 0);
  // dockerd 20.10: GET/HEAD/PUT archive?path=/tmp/f/x → 500 "lstat <its merged dir>/tmp/f/x: not a directory".
  for (const method of ['GET', 'HEAD']) {
    const r = await d.request(method, '/v1.41/containers/cpnd/archive?path=/tmp/f/x');
    assert.equal(r.status, 500, r.body);
    if (method === 'GET') assert.equal(JSON.parse(r.body).message, 'lstat /tmp/f/x: not a directory');
  }
  // Still there, unchanged: the file and a plain missing path's 404.
  assert.equal((await d.request('HEAD', '/v1.41/containers/cpnd/archive?path=/tmp/f')).status, 200);
  const missing = await d.request('GET', '/v1.41/containers/cpnd/archive?path=/tmp/nope');
  assert.equal(missing.status, 404);
  assert.equal(d.docker(['rm', 'cpnd']).status, 0);
});
