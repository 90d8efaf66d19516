// The hijacked attach/exec protocol at the HTTP level, as the docker CLI speaks it:
// `Upgrade: tcp` → `HTTP/1.1 101 UPGRADED` with the multiplexed content type, stdin written
// then half-closed (CloseWrite), stdcopy frames back; wait answers once the container exits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startDaemon, mountsUnder, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from './busybox-image.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:attach'));
  assert.equal(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]).status, 0);
});
after(async () => { await d.stop(); });

/** Sends a request asking for an upgrade; resolves with the head and a socket positioned after it. */
function upgrade(urlPath: string, body?: unknown): Promise<{ head: string; socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(d.socket, () => {
      const data = body === undefined ? '' : JSON.stringify(body);
      socket.write(`POST ${urlPath} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(data)}\r\n\r\n${data}`);
    });
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      resolve({ head: buf.subarray(0, end).toString(), socket, rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

async function readAll(socket: net.Socket, first: Buffer): Promise<Buffer> {
  const chunks = [first];
  socket.resume();
  for await (const c of socket) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  for (let i = 0; i + 8 <= buf.length;) {
    const size = buf.readUInt32BE(i + 4);
    const text = buf.subarray(i + 8, i + 8 + size).toString();
    if (buf[i] === 1) out.stdout += text; else if (buf[i] === 2) out.stderr += text; else throw new Error(`bad stream byte ${buf[i]}`);
    assert.deepEqual([...buf.subarray(i + 1, i + 4)], [0, 0, 0]);
    i += 8 + size;
  }
  return out;
}

test('attach before start: stdin reaches the process, frames come back, wait reports the code', async () => {
  const created = await d.request('POST', '/v1.50/containers/create?name=att', {
    Image: 'bb:attach', Cmd: ['sh', '-c', 'read line; echo "got $line"; echo oops >&2; exit 4'],
    OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
  });
  assert.equal(created.status, 201, created.body);
  const { head, socket, rest } = await upgrade('/v1.50/containers/att/attach?stream=1&stdin=1&stdout=1&stderr=1');
  assert.match(head, /^HTTP\/1.1 101 UPGRADED\r\n/);
  assert.match(head, /Content-Type: application\/vnd.docker.multiplexed-stream/);
  const waited = d.request('POST', '/v1.50/containers/att/wait?condition=next-exit');
  const started = await d.request('POST', '/v1.50/containers/att/start');
  assert.equal(started.status, 204);
  socket.end('hello\n');
  const { stdout, stderr } = demux(await readAll(socket, rest));
  assert.equal(stdout, 'got hello\n');
  assert.equal(stderr, 'oops\n');
  const w = await waited;
  assert.equal(w.status, 200);
  assert.deepEqual(JSON.parse(w.body), { StatusCode: 4 });
  const logs = await d.request('GET', '/v1.50/containers/att/logs?stdout=1&stderr=1');
  assert.deepEqual(demux(Buffer.from(logs.body, 'latin1')), { stdout: 'got hello\n', stderr: 'oops\n' });
  assert.equal((await d.request('DELETE', '/v1.50/containers/att')).status, 204);
});

test('exec start over the hijacked connection keeps the body apart from stdin', async () => {
  assert.equal(d.docker(['run', '-d', '--name', 'ex', 'bb:attach', 'sleep', '1000']).status, 0);
  const created = await d.request('POST', '/v1.50/containers/ex/exec', { Cmd: ['cat'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
  const id = (JSON.parse(created.body) as { Id: string }).Id;
  const { head, socket, rest } = await upgrade(`/v1.50/exec/${id}/start`, { Detach: false, Tty: false });
  assert.match(head, /^HTTP\/1.1 101 UPGRADED/);
  socket.end('only stdin\n');
  assert.equal(demux(await readAll(socket, rest)).stdout, 'only stdin\n');
  const inspect = JSON.parse((await d.request('GET', `/v1.50/exec/${id}/json`)).body) as { ExitCode: number; Running: boolean };
  assert.equal(inspect.ExitCode, 0);
  assert.equal(inspect.Running, false);
  assert.equal(d.docker(['rm', '-f', 'ex']).status, 0);
  assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'containers')), []);
});
