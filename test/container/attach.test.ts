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
after(async () => {
  await d.stop();
});

/** Sends a request asking for an upgrade; resolves with the head and a socket positioned after it. */
function upgrade(urlPath: string, body?: unknown): Promise<{ head: string; socket: net.Socket; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(d.socket, () => {
      const data = body === undefined ? '' : JSON.stringify(body);
      socket.write(
        `POST ${urlPath} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(data)}\r\n\r\n${data}`,
      );
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
    if (buf[i] === 1) out.stdout += text;
    else if (buf[i] === 2) out.stderr += text;
    else throw new Error(`bad stream byte ${buf[i]}`);
    assert.deepEqual([...buf.subarray(i + 1, i + 4)], [0, 0, 0]);
    i += 8 + size;
  }
  return out;
}

test('attach before start: stdin reaches the process, frames come back, wait reports the code', async () => {
  const created = await d.request('POST', '/v1.50/containers/create?name=att', {
    Image: 'bb:attach',
    Cmd: ['sh', '-c', 'read line; echo "got $line"; echo oops >&2; exit 4'],
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
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
  // dockerd 20.10 always sends Error, null when the wait went well.
  assert.deepEqual(JSON.parse(w.body), { Error: null, StatusCode: 4 });
  const logs = await d.request('GET', '/v1.50/containers/att/logs?stdout=1&stderr=1');
  assert.deepEqual(demux(Buffer.from(logs.body, 'latin1')), { stdout: 'got hello\n', stderr: 'oops\n' });
  assert.equal((await d.request('DELETE', '/v1.50/containers/att')).status, 204);
});

test('exec start over the hijacked connection keeps the body apart from stdin', async () => {
  assert.equal(d.docker(['run', '-d', '--name', 'ex', 'bb:attach', 'sleep', '1000']).status, 0);
  const created = await d.request('POST', '/v1.50/containers/ex/exec', {
    Cmd: ['cat'],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  const id = (JSON.parse(created.body) as { Id: string }).Id;
  const { head, socket, rest } = await upgrade(`/v1.50/exec/${id}/start`, { Detach: false, Tty: false });
  assert.match(head, /^HTTP\/1.1 101 UPGRADED/);
  socket.end('only stdin\n');
  assert.equal(demux(await readAll(socket, rest)).stdout, 'only stdin\n');
  const inspect = JSON.parse((await d.request('GET', `/v1.50/exec/${id}/json`)).body) as {
    ExitCode: number;
    Running: boolean;
  };
  assert.equal(inspect.ExitCode, 0);
  assert.equal(inspect.Running, false);
  assert.equal(d.docker(['rm', '-f', 'ex']).status, 0);
  assert.deepEqual(mountsUnder(path.join(d.dataRoot, 'containers')), []);
});

async function execStart(
  container: string,
  create: Record<string, unknown>,
  start: Record<string, unknown>,
  version = 'v1.41',
) {
  const created = await d.request('POST', `/${version}/containers/${container}/exec`, create);
  assert.equal(created.status, 201, created.body);
  const id = (JSON.parse(created.body) as { Id: string }).Id;
  const { head, socket, rest } = await upgrade(`/${version}/exec/${id}/start`, start);
  return { id, head, out: await readAll(socket, rest) };
}

test("exec start frames its stream by the start request's Tty, as Docker does", async () => {
  assert.equal(d.docker(['run', '-d', '--name', 'extty', 'bb:attach', 'sleep', '1000']).status, 0);
  const cmd = ['sh', '-c', 'echo hello out; echo hello err >&2'];
  // Checked against dockerd 20.10 (docker-py exec_run / exec_start): with a terminal the answer is
  // the terminal's raw bytes, whole, stdout and stderr together.
  for (const version of ['v1.41', 'v1.50']) {
    const r = await execStart(
      'extty',
      { Cmd: cmd, Tty: true, AttachStdout: true, AttachStderr: true },
      { Detach: false, Tty: true },
      version,
    );
    assert.match(r.head, /Content-Type: application\/vnd.docker.raw-stream/);
    assert.equal(r.out.toString(), 'hello out\r\nhello err\r\n');
  }
  // dockerd 20.10: an exec created with a terminal but started with Tty false comes back in
  // stdcopy frames (docker-py reads "hello out\r\n" from them); sending raw bytes instead made a
  // framing client take "hello ou" for a header and show only "t".
  const framed = await execStart(
    'extty',
    { Cmd: ['echo', 'hello out'], Tty: true, AttachStdout: true },
    { Detach: false, Tty: false },
  );
  assert.deepEqual(demux(framed.out), { stdout: 'hello out\r\n', stderr: '' });
  // dockerd 20.10: created without a terminal, started with Tty true: raw bytes, no frames.
  const raw = await execStart(
    'extty',
    { Cmd: ['echo', 'hello out'], AttachStdout: true },
    { Detach: false, Tty: true },
  );
  assert.equal(raw.out.toString(), 'hello out\n');
  assert.equal(d.docker(['rm', '-f', 'extty']).status, 0);
});

test('exec start with Detach answers at once and leaves the process running', async () => {
  assert.equal(d.docker(['run', '-d', '--name', 'exdet', 'bb:attach', 'sleep', '1000']).status, 0);
  for (const detachKeys of [undefined, 'ctrl-x,x']) {
    const created = await d.request('POST', '/v1.41/containers/exdet/exec', {
      Cmd: ['sleep', '1000'],
      Tty: true,
      AttachStdout: true,
      ...(detachKeys ? { DetachKeys: detachKeys } : {}),
    });
    const id = (JSON.parse(created.body) as { Id: string }).Id;
    // dockerd 20.10: 200 with an empty body, the exec still running.
    const started = await d.request('POST', `/v1.41/exec/${id}/start`, { Detach: true, Tty: true });
    assert.equal(started.status, 200);
    assert.equal(started.body, '');
    const inspect = JSON.parse((await d.request('GET', `/v1.41/exec/${id}/json`)).body) as {
      Running: boolean;
      Pid: number;
      ExitCode: number | null;
    };
    assert.equal(inspect.Running, true);
    assert.ok(inspect.Pid > 0);
    assert.equal(inspect.ExitCode, null);
  }
  assert.equal(d.docker(['rm', '-f', 'exdet']).status, 0);
});
