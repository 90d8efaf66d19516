// The terminal size a client sends with a start is the one the process finds when it runs:
// ConsoleSize on exec start (API 1.42+), a resize sent before the exec starts, and
// HostConfig.ConsoleSize of a container with a terminal. A short-lived `stty size` reads it
// at once, so a size applied only after the process runs shows up here as busybox's
// "stty: standard input" (0x0). dockerd 20.10 (API 1.41) ignores ConsoleSize and prints exactly
// that; newer dockerd gives the process the size first, as here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;
before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:tty'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
  assert.equal(d.docker(['run', '-d', '--name', 'term', 'bb:tty', 'sleep', '1000']).status, 0);
});
after(async () => {
  d?.docker(['rm', '-f', 'term']);
  await d?.stop();
});

const STTY = ['/bin/busybox', 'stty', 'size'];

async function execCreate(): Promise<string> {
  const c = await d.request('POST', '/v1.50/containers/term/exec', { Tty: true, AttachStdout: true, Cmd: STTY });
  assert.equal(c.status, 201, c.body);
  return JSON.parse(c.body).Id as string;
}

test('exec start with ConsoleSize: the process starts with that size, every time', async () => {
  for (let i = 0; i < 8; i++) {
    const id = await execCreate();
    const st = await d.request('POST', `/v1.50/exec/${id}/start`, { Tty: true, ConsoleSize: [33, 77 + i] });
    assert.equal(st.status, 200, st.body);
    assert.equal(st.body, `33 ${77 + i}\r\n`, `round ${i}`);
  }
});

test('a resize sent before the exec starts is the size it starts with', async () => {
  const id = await execCreate();
  const r = await d.request('POST', `/v1.50/exec/${id}/resize?h=40&w=100`);
  assert.equal(r.status, 200, r.body);
  const st = await d.request('POST', `/v1.50/exec/${id}/start`, { Tty: true });
  assert.equal(st.status, 200, st.body);
  assert.equal(st.body, '40 100\r\n');
});

test("a container's HostConfig.ConsoleSize is its terminal's size from its first instruction", async () => {
  const c = await d.request('POST', '/v1.50/containers/create', {
    Image: 'bb:tty',
    Tty: true,
    Cmd: STTY,
    HostConfig: { ConsoleSize: [21, 55] },
  });
  assert.equal(c.status, 201, c.body);
  const id = JSON.parse(c.body).Id as string;
  try {
    const run = d.docker(['start', '-a', id]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(d.docker(['logs', id]).stdout, '21 55\r\n');
  } finally {
    d.docker(['rm', '-f', id]);
  }
});
