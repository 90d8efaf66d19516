// SIGTERM stops the daemon within its containers' stop timeout plus a bound, whatever is still
// open: a container that ignores SIGTERM, an attach stream, an exec with stdin open, a pending
// `wait` and an `events` stream. A second SIGTERM forces the exit at once. Either way nothing
// stays mounted under the data-root and no container process outlives the daemon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { startDaemon, mountsUnder, ok, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

const STUBBORN = ['sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 1; done'];

async function daemonWithBusybox(): Promise<TestDaemon> {
  const d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:shutdown'));
  ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
  return d;
}

/** Long-lived clients of the daemon; each ends when the daemon goes. */
function openClients(d: TestDaemon, container: string): ChildProcess[] {
  const env = { ...process.env, DOCKER_HOST: d.host };
  const clients = [
    spawn('docker', ['attach', container], { env, stdio: ['pipe', 'pipe', 'pipe'] }),
    spawn('docker', ['exec', '-i', container, 'sh'], { env, stdio: ['pipe', 'pipe', 'pipe'] }),
    spawn('docker', ['wait', container], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
    spawn('docker', ['events'], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
  ];
  for (const c of clients) {
    c.stdout?.resume();
    c.stderr?.resume();
  }
  return clients;
}

/** Resolves true once the process has exited, false if it is still there after `ms`. */
function exitsWithin(proc: ChildProcess, ms: number): Promise<boolean> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

async function waitForLog(d: TestDaemon, re: RegExp): Promise<void> {
  for (let i = 0; i < 200 && !re.test(d.log()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(d.log(), re);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilRunning(d: TestDaemon, name: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const pid = Number(d.docker(['inspect', '-f', '{{.State.Pid}}', name]).stdout.trim());
    if (pid > 0 && /ready/.test(d.docker(['logs', name]).stdout)) return pid;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not start`);
}

test('SIGTERM with a stubborn container and open streams: the daemon exits within the bound and unmounts everything', async () => {
  const d = await daemonWithBusybox();
  const clients: ChildProcess[] = [];
  try {
    ok(d.docker(['run', '-d', '-i', '--name', 'stubborn', '--stop-timeout', '2', 'bb:shutdown', ...STUBBORN]), 'run');
    const pid = await waitUntilRunning(d, 'stubborn');
    clients.push(...openClients(d, 'stubborn'));
    await waitForLog(d, /./);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(mountsUnder(d.dataRoot).length > 0, 'the container rootfs is mounted before shutdown');
    d.expectExit();
    d.proc.kill('SIGTERM');
    // 2 s of stop timeout, the watchdog's 15 s margin, and slack for a loaded machine.
    assert.ok(await exitsWithin(d.proc, 30_000), `the daemon is still running after SIGTERM:\n${d.log()}`);
    assert.equal(d.proc.exitCode, 0, d.log());
    assert.deepEqual(mountsUnder(d.dataRoot), [], 'nothing left mounted under the data-root');
    assert.equal(alive(pid), false, 'the container process is gone');
    for (const c of clients) assert.ok(await exitsWithin(c, 10_000), `client ${c.spawnargs.join(' ')} ended`);
  } finally {
    for (const c of clients) c.kill('SIGKILL');
    await d.stop();
  }
});

test('a second SIGTERM forces the exit at once: container killed, mounts undone', async () => {
  const d = await daemonWithBusybox();
  const clients: ChildProcess[] = [];
  try {
    ok(d.docker(['run', '-d', '-i', '--name', 'slow', '--stop-timeout', '120', 'bb:shutdown', ...STUBBORN]), 'run');
    const pid = await waitUntilRunning(d, 'slow');
    clients.push(...openClients(d, 'slow'));
    await new Promise((r) => setTimeout(r, 500));
    d.expectExit();
    d.proc.kill('SIGTERM');
    await waitForLog(d, /SIGTERM: shutting down/);
    assert.equal(d.proc.exitCode, null, 'the first SIGTERM waits for the stop timeout');
    d.proc.kill('SIGTERM');
    // Far below the container's 120 s stop timeout.
    assert.ok(await exitsWithin(d.proc, 20_000), `the daemon ignored a second SIGTERM:\n${d.log()}`);
    assert.notEqual(d.proc.exitCode, 0, 'a forced shutdown does not report success');
    assert.match(d.log(), /forc/i);
    assert.deepEqual(mountsUnder(d.dataRoot), [], 'nothing left mounted under the data-root');
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(pid), false, 'the container process is gone');
  } finally {
    for (const c of clients) c.kill('SIGKILL');
    await d.stop();
  }
});

test('a terminal whose process reads no input: stdin piling up never blocks the daemon, SIGTERM still stops it', async () => {
  const d = await daemonWithBusybox();
  let socket: net.Socket | undefined;
  try {
    ok(
      d.docker([
        'run',
        '-d',
        '-it',
        '--name',
        'deaf',
        '--stop-timeout',
        '1',
        'bb:shutdown',
        'sh',
        '-c',
        'echo ready; exec sleep 1000',
      ]),
      'run',
    );
    await waitUntilRunning(d, 'deaf');
    // The attach of `docker attach`, stdin included, with input the process never reads: the
    // terminal's input queue fills up, and the writes must wait without holding the event loop.
    socket = net.connect(d.socket);
    socket.on('error', () => undefined);
    socket.resume();
    socket.write(
      'POST /containers/deaf/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\n' +
        'Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
    );
    const line = Buffer.from('x'.repeat(79) + '\n');
    for (let i = 0; i < 4096; i++) socket.write(line);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await d.request('GET', '/_ping')).status, 200, 'the daemon still answers');
    d.expectExit();
    d.proc.kill('SIGTERM');
    assert.ok(await exitsWithin(d.proc, 30_000), `the daemon is still running after SIGTERM:\n${d.log()}`);
    assert.equal(d.proc.exitCode, 0, d.log());
    assert.deepEqual(mountsUnder(d.dataRoot), [], 'nothing left mounted under the data-root');
  } finally {
    socket?.destroy();
    await d.stop();
  }
});
