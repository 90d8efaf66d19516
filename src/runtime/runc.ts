// runc driven as a child of the daemon: `runc run` in the foreground keeps the container's
// init reachable through runc's own exit status, and its stdio (pipes or a terminal we own)
// is the container's stdio. State lives under <exec-root>/runc (`runc --root`), logs of runc
// itself go to the bundle so they never mix with the container's output.
import fs from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import { spawn, execFile, type ChildProcess, type StdioOptions as NodeStdio } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { openPty, setNonBlocking, setWindowSize } from './pty.js';
import type { ContainerRuntime, RuntimeProcess, RuntimeState, StdioOptions } from './types.js';

export interface RuncOptions {
  /** runc's state directory (`runc --root`). */
  stateRoot: string;
  binary?: string;
}

/** What runc said when it failed, as Docker reports it. */
export class RuntimeError extends Error {}

export function createRuncRuntime(opts: RuncOptions): ContainerRuntime {
  const bin = opts.binary ?? 'runc';
  fs.mkdirSync(opts.stateRoot, { recursive: true, mode: 0o700 });
  const base = ['--root', opts.stateRoot];

  const runQuiet = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(bin, [...base, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new RuntimeError(lastRuncMessage(stderr) || err.message));
        else resolve(stdout);
      });
    });

  return {
    name: path.basename(bin),
    async run(id, bundle, stdio) {
      const logFile = path.join(bundle, 'runc.log');
      const pidFile = path.join(bundle, 'init.pid');
      fs.rmSync(pidFile, { force: true });
      const args = [
        ...base,
        '--log',
        logFile,
        '--log-format',
        'json',
        'run',
        '--bundle',
        bundle,
        '--pid-file',
        pidFile,
        id,
      ];
      return startForeground(bin, args, bundle, stdio, pidFile, logFile, 'create');
    },
    async exec(id, execId, processSpec, stdio) {
      const dir = path.join(path.dirname(opts.stateRoot), 'exec-processes', execId);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const specFile = path.join(dir, 'process.json');
      fs.writeFileSync(specFile, JSON.stringify(processSpec));
      const logFile = path.join(dir, 'runc.log');
      const pidFile = path.join(dir, 'exec.pid');
      const args = [
        ...base,
        '--log',
        logFile,
        '--log-format',
        'json',
        'exec',
        '--process',
        specFile,
        '--pid-file',
        pidFile,
        id,
      ];
      try {
        const proc = await startForeground(bin, args, dir, stdio, pidFile, logFile, 'exec');
        void proc.exited.finally(() => fs.rmSync(dir, { recursive: true, force: true }));
        return proc;
      } catch (err) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    },
    async kill(id, signal, all) {
      await runQuiet(['kill', ...(all ? ['--all'] : []), id, String(signal)]);
    },
    async pause(id) {
      await runQuiet(['pause', id]);
    },
    async resume(id) {
      await runQuiet(['resume', id]);
    },
    async state(id): Promise<RuntimeState | null> {
      try {
        const s = JSON.parse(await runQuiet(['state', id])) as { id: string; pid: number; status: string };
        return { id: s.id, pid: s.pid, status: s.status };
      } catch {
        return null;
      }
    },
    async pids(id) {
      const out = await runQuiet(['ps', '--format', 'json', id]);
      return (JSON.parse(out) as number[] | null) ?? [];
    },
    async delete(id) {
      await runQuiet(['delete', '--force', id]).catch(() => undefined);
    },
    async update(id, resources) {
      await new Promise<void>((resolve, reject) => {
        const child = spawn(bin, [...base, 'update', '--resources', '-', id], { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0
            ? resolve()
            : reject(new RuntimeError(lastRuncMessage(stderr) || `runc update exited with ${code}`)),
        );
        child.stdin!.end(JSON.stringify(resources));
      });
    },
    async list() {
      // runc lists the state directories under its root: where there are none (every start
      // after a clean stop, every fresh one) there is nothing to list and no runc to start.
      if (fs.readdirSync(opts.stateRoot).length === 0) return [];
      const out = await runQuiet(['list', '--format', 'json']);
      const rows = JSON.parse(out || 'null') as { id: string }[] | null;
      return (rows ?? []).map((r) => r.id);
    },
  };
}

async function startForeground(
  bin: string,
  args: string[],
  cwd: string,
  stdio: StdioOptions,
  pidFile: string,
  logFile: string,
  verb: 'create' | 'exec',
): Promise<RuntimeProcess> {
  fs.rmSync(logFile, { force: true });
  let child: ChildProcess;
  let stdin: NodeJS.WritableStream | null = null;
  let stdout: NodeJS.ReadableStream;
  let stderr: NodeJS.ReadableStream | null = null;
  let outputDone: Promise<void>;
  let terminal: tty.ReadStream | null = null;
  let master = -1;
  if (stdio.tty) {
    const pty = openPty();
    let term: tty.ReadStream;
    try {
      if (stdio.size) setWindowSize(pty.master, stdio.size.height, stdio.size.width);
      child = spawn(bin, args, { cwd, stdio: [pty.slave, pty.slave, pty.slave] as NodeStdio });
      // From here the master has exactly one owner, this stream, which closes it once when it is
      // destroyed. A second stream or a closeSync on the same number would close whatever the
      // number was given to next (a connection, the database, libuv's epoll fd: libuv aborts).
      term = new tty.ReadStream(pty.master);
      setNonBlocking(pty.master);
    } catch (err) {
      fs.closeSync(pty.master);
      throw err;
    } finally {
      fs.closeSync(pty.slave);
    }
    terminal = term;
    master = pty.master;
    const out = new PassThrough();
    outputDone = new Promise((resolve) => {
      // EIO is how a terminal master reports that every slave is closed: the end of output.
      term.on('error', () => {
        out.end();
        resolve();
      });
      term.on('end', () => {
        out.end();
        resolve();
      });
      term.on('close', () => {
        out.end();
        resolve();
      });
    });
    term.pipe(out, { end: false });
    stdout = out;
    if (stdio.stdin) stdin = terminalInput(term, pty.master);
  } else {
    child = spawn(bin, args, { cwd, stdio: [stdio.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    stdin = child.stdin;
    // Read from the first moment: Node discards stdio nobody reads when the child exits
    // (flushStdio), and a short-lived container exits before we attach consumers.
    stdout = child.stdout!.pipe(new PassThrough());
    stderr = child.stderr!.pipe(new PassThrough());
    outputDone = Promise.resolve();
  }
  (stdin as (NodeJS.WritableStream & { on: Function }) | null)?.on?.('error', () => undefined);

  const exitStatus = new Promise<number>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
    child.on('error', () => resolve(127));
  });
  const exited = exitStatus.then(async (code) => {
    await outputDone;
    terminal?.destroy();
    return code;
  });

  const pid = await waitForPid(pidFile, exitStatus);
  if (pid === null) {
    await exited;
    const msg = readRuncError(logFile) || `${path.basename(bin)} exited before the container started`;
    throw new RuntimeError(
      verb === 'create'
        ? `failed to create shim task: OCI runtime create failed: ${msg.replace(/^runc run failed: /, 'runc create failed: ')}: unknown`
        : `OCI runtime exec failed: ${msg.replace(/^runc exec failed: /, 'exec failed: ')}: unknown`,
    );
  }
  return {
    pid,
    stdin: stdin as RuntimeProcess['stdin'],
    stdout: stdout as RuntimeProcess['stdout'],
    stderr: stderr as RuntimeProcess['stderr'],
    exited,
    resize(height, width) {
      // Only while the stream still owns the master: after it is destroyed the number is not ours.
      if (!terminal || terminal.destroyed) return;
      try {
        setWindowSize(master, height, width);
        child.kill('SIGWINCH');
      } catch {
        /* the terminal is gone */
      }
    },
  };
}

/**
 * The process's stdin on a terminal, written straight to the (non-blocking) master while the
 * stream that owns it is alive. Not through that stream: libuv writes a terminal it could not
 * reopen as blocking, retrying EAGAIN in a loop, which stalls the daemon as soon as a process
 * leaves its input unread; here a full input queue is retried later and holds only this writer.
 * Its end closes nothing; the terminal lives as long as the process (a terminal has no
 * half-close, and closing the master would hang up the process).
 */
function terminalInput(term: tty.ReadStream, master: number): Writable {
  return new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, done) {
      let offset = 0;
      const attempt = () => {
        while (offset < chunk.length) {
          // Checked right before each write: once the stream is destroyed the number is not ours.
          if (term.destroyed) return done();
          try {
            offset += fs.writeSync(master, chunk, offset, chunk.length - offset);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
              setTimeout(attempt, 20);
              return;
            }
            return done(); // EIO: the process is gone, its input with it.
          }
        }
        done();
      };
      attempt();
    },
  });
}

/** The PID file appears once the container process exists; runc exiting first means it failed. */
async function waitForPid(pidFile: string, exit: Promise<number>): Promise<number | null> {
  let done = false;
  void exit.then(() => {
    done = true;
  });
  for (;;) {
    try {
      const text = fs.readFileSync(pidFile, 'utf8').trim();
      if (text) return Number(text);
    } catch {
      /* not yet */
    }
    if (done) return null;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function readRuncError(logFile: string): string {
  let text = '';
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return '';
  }
  return lastRuncMessage(text);
}

function lastRuncMessage(text: string): string {
  let msg = '';
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const rec = JSON.parse(line) as { level?: string; msg?: string };
      if (rec.level === 'error' || rec.level === 'fatal') msg = rec.msg ?? msg;
    } catch {
      const m = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
      if (m) msg = m[1]!.replace(/\\"/g, '"');
      else msg = line.trim();
    }
  }
  return msg;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? (SIGNALS[signal] ?? 0) : 0;
}
