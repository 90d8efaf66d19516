// Starts a real Strata daemon on scratch paths for integration tests, and the docker CLI
// pointed at it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface TestDaemon {
  dir: string;
  socket: string;
  dataRoot: string;
  host: string;
  proc: ChildProcess;
  /** Runs the docker CLI against this daemon; never throws. */
  docker(args: string[], input?: string): { status: number; stdout: string; stderr: string };
  /** Raw HTTP against the socket. */
  request(
    method: string,
    urlPath: string,
    body?: unknown,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>;
  stop(): Promise<void>;
  /** The test is about to end the daemon itself: its exit is no surprise. */
  expectExit(): void;
  log(): string;
}

/** Unmounts (lazily) whatever is still mounted under `dir`, deepest first. */
function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir).sort().reverse()) spawnSync('umount', ['-l', m]);
}

/** Ends `proc` (SIGTERM, then SIGKILL after `graceMs`) and resolves once it has exited. */
async function endProcess(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = exited(proc);
  proc.kill('SIGTERM');
  await Promise.race([gone, new Promise((r) => setTimeout(r, graceMs))]);
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGKILL');
    await gone;
  }
}

export interface StartOptions {
  /** How long the daemon has to answer /_ping (20 s). */
  startTimeoutMs?: number;
}

/** A daemon that did not start: its pid and scratch dir, which are gone by the time it is thrown. */
export class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly pid: number | undefined,
    readonly dir: string,
  ) {
    super(message);
  }
}

export async function startDaemon(extraArgs: string[] = [], opts: StartOptions = {}): Promise<TestDaemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-test-'));
  const socket = path.join(dir, 'strata.sock');
  const dataRoot = path.join(dir, 'root');
  const logFile = path.join(dir, 'daemon.log');
  const logFd = fs.openSync(logFile, 'a');
  const proc = spawn(
    path.join(repoRoot, 'bin/strata'),
    [
      'daemon',
      '--data-root',
      dataRoot,
      '--exec-root',
      path.join(dir, 'exec'),
      '--host',
      `unix://${socket}`,
      ...extraArgs,
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  fs.closeSync(logFd);
  let stopping = false;
  // A daemon that dies under a test says how and shows its last words, whatever the test asserts next.
  proc.once('exit', (code, signal) => {
    if (stopping) return;
    const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-60).join('\n') : '';
    process.stderr.write(
      `test daemon ${proc.pid} died unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}); last lines of ${logFile}:\n${tail}\n`,
    );
  });
  const host = `unix://${socket}`;
  const request = (method: string, urlPath: string, body?: unknown) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        { socketPath: socket, method, path: urlPath, headers: data ? { 'Content-Type': 'application/json' } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const teardown = async (graceMs: number): Promise<void> => {
    await endProcess(proc, graceMs);
    // What its networks left on the host (a killed daemon's bridges, chains, DNS server) goes
    // before the data-root naming them, and is reported: a leak shows in the test's output.
    const left = spawnSync(
      'node',
      [path.join(repoRoot, 'scripts/network-leftovers.mjs'), dataRoot, path.join(dir, 'exec')],
      { encoding: 'utf8' },
    );
    if (left.stdout) process.stderr.write(left.stdout);
    // Anything left mounted under the scratch dir is a bug in the code under test, but must not leak into the machine.
    unmountUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // A daemon that does not come up is ended, and what it mounted and wrote goes, before the
  // error: left running, it would hold its mounts (and the loop devices under them) for the
  // rest of the suite. The error carries its log.
  const failed = async (why: string): Promise<never> => {
    stopping = true;
    await endProcess(proc, 5_000);
    const text = log();
    await teardown(0);
    throw new DaemonStartError(`daemon ${proc.pid} ${why}; its log:\n${text}`, proc.pid, dir);
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      return failed(`exited (${proc.signalCode ?? `exit code ${proc.exitCode}`}) before answering /_ping`);
    try {
      if ((await request('GET', '/_ping')).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) return failed(`did not answer /_ping within ${opts.startTimeoutMs ?? 20_000} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    socket,
    dataRoot,
    host,
    proc,
    request,
    log,
    expectExit() {
      stopping = true;
    },
    docker(args, input) {
      const r = spawnSync('docker', args, {
        input,
        encoding: 'utf8',
        env: { ...process.env, DOCKER_HOST: host },
        timeout: 120_000,
      });
      return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
    async stop() {
      stopping = true;
      await teardown(15_000);
    },
  };
}

/** Mount points under `dir` still listed in /proc/self/mountinfo. */
export function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(dir));
}

/**
 * mountsUnder once the daemon's teardown behind an answered exit (or a finished copy) is done:
 * polls until no more than `want` mounts are left, for up to 20 s, and returns what is left.
 */
export async function mountsUnderSettled(dir: string, want = 0): Promise<string[]> {
  let left = mountsUnder(dir);
  for (let i = 0; i < 200 && left.length > want; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = mountsUnder(dir);
  }
  return left;
}

/** A docker CLI result that must have succeeded: its stdout. */
export function ok(r: { status: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

function pingOnce(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * A daemon on `dir`'s data-root, exec-root and socket (`dir/s.sock`), logging to `dir/daemon.log`,
 * for tests that kill and restart it on the same state; resolves once it answers /_ping (or 20 s).
 */
export async function spawnDaemonIn(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  const socket = path.join(dir, 's.sock');
  const log = fs.openSync(path.join(dir, 'daemon.log'), 'a');
  const proc = spawn(
    path.join(repoRoot, 'bin/strata'),
    [
      'daemon',
      '--data-root',
      path.join(dir, 'root'),
      '--exec-root',
      path.join(dir, 'exec'),
      '--host',
      `unix://${socket}`,
    ],
    { stdio: ['ignore', log, log], env },
  );
  fs.closeSync(log);
  for (let i = 0; i < 200; i++) {
    if (await pingOnce(socket)) return proc;
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // A daemon that exited or never answered: ended here, with its log in the error, instead of
  // handing the test a process that fails every request after it.
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGKILL');
    await exited(proc);
  }
  const tail = fs.readFileSync(path.join(dir, 'daemon.log'), 'utf8').split('\n').slice(-40).join('\n');
  throw new Error(
    `daemon in ${dir} did not answer /_ping (exit ${proc.exitCode ?? proc.signalCode}); its log:\n${tail}`,
  );
}

/** Resolves when `p` has exited (at once if it already has). */
export const exited = (p: ChildProcess): Promise<unknown> =>
  new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)));
