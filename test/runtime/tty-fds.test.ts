// Terminal plumbing under load: a long-lived `-it` container restarted while short `-t` runs and
// `exec -t`s start and end and `docker ps` keeps the API busy. Each terminal master must be
// closed exactly once by its one owner; a second close of a number already handed to something
// else (a connection, the database, libuv's epoll fd) makes libuv abort the daemon.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { startDaemon, ok, type TestDaemon } from '../helpers/daemon.js';
import { busyboxArchive } from '../container/busybox-image.js';

let d: TestDaemon;

before(async () => {
  d = await startDaemon();
  fs.writeFileSync(path.join(d.dir, 'bb.tar'), await busyboxArchive('bb:tty'));
  ok(d.docker(['load', '-i', path.join(d.dir, 'bb.tar')]), 'load');
});
after(async () => {
  await d.stop();
});

const alive = () => d.proc.exitCode === null && d.proc.signalCode === null;

function dockerAsync(args: string[]): Promise<{ status: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, {
      env: { ...process.env, DOCKER_HOST: d.host },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.resume();
    child.on('close', (code) => resolve({ status: code ?? -1, stdout }));
  });
}

test('terminals of runs, execs and restarts: the daemon survives and every master is closed', async () => {
  ok(d.docker(['run', '-dit', '--name', 'it', 'bb:tty', 'sh']), 'run -dit');
  const daemonPid = d.proc.pid!;
  let psRunning = true;
  const psLoop = (async () => {
    while (psRunning && alive()) await dockerAsync(['ps']);
  })();
  const outputs: string[] = [];
  try {
    for (let round = 1; round <= 30 && alive(); round++) {
      const run = dockerAsync(['run', '--rm', '-t', 'bb:tty', 'echo', 'hi']);
      const exec = dockerAsync(['exec', '-t', 'it', 'echo', 'hi']);
      if (round % 10 === 0) await dockerAsync(['restart', '-t', '1', 'it']);
      const [r, e] = await Promise.all([run, exec]);
      outputs.push(r.stdout, e.stdout);
    }
  } finally {
    psRunning = false;
    await psLoop;
  }
  assert.ok(
    alive(),
    `the daemon died (${d.proc.exitCode ?? d.proc.signalCode}):\n${d.log().split('\n').slice(-60).join('\n')}`,
  );
  assert.ok(
    outputs.filter((o) => o === 'hi\r\n').length >= 30,
    `terminal output arrived: ${JSON.stringify(outputs.slice(0, 6))}`,
  );
  assert.doesNotMatch(d.log(), /EBADF/, 'no descriptor was closed twice');
  // Once the runs are over, the only terminal masters left open are the `-it` container's.
  ok(d.docker(['rm', '-f', 'it']), 'rm -f');
  const ptmx = fs.readdirSync(`/proc/${daemonPid}/fd`).filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/${daemonPid}/fd/${fd}`) === '/dev/ptmx';
    } catch {
      return false;
    }
  });
  assert.deepEqual(ptmx, [], 'no terminal master left open');
});

test('input typed into a terminal reaches the process; its end leaves the terminal open', async () => {
  ok(
    d.docker(['create', '-it', '--name', 'typed', 'bb:tty', 'sh', '-c', 'read a; echo got:$a; read b; echo then:$b']),
    'create',
  );
  const socket = net.connect(d.socket);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise((r) => socket.on('close', r));
  socket.write(
    'POST /containers/typed/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\n' +
      'Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
  );
  while (!Buffer.concat(chunks).includes('101 UPGRADED')) await new Promise((r) => setTimeout(r, 20));
  ok(d.docker(['start', 'typed']), 'start');
  socket.write('hello\n');
  while (!Buffer.concat(chunks).includes('got:hello')) await new Promise((r) => setTimeout(r, 20));
  socket.end('world\n');
  await closed;
  const text = Buffer.concat(chunks).toString();
  assert.match(text, /got:hello\r\n/);
  assert.match(text, /then:world\r\n/);
  assert.equal(d.docker(['wait', 'typed']).stdout.trim(), '0');
  ok(d.docker(['rm', 'typed']), 'rm');
});
