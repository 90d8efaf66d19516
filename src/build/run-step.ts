// RUN: the command runs under runc in the step's workspace root, as the build container would,
// with the image's Env (plus build args), WorkingDir and User; stdout and stderr stream into the
// build output (stderr in red, as Docker's classic builder prints it). The writable layer is
// what the workspace exports afterwards.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Engine } from '../engine.js';
import { buildSpec } from '../runtime/oci-spec.js';
import { resolveUser } from '../runtime/user.js';
import { mkdirInRoot, secureJoin } from '../runtime/rootfs-path.js';
import { BuildError } from './build-error.js';
import { killOnExit } from './exit-hooks.js';

export interface RunRequest {
  /** The build container's ID (64 hex), shown shortened in `Running in`. */
  id: string;
  args: string[];
  env: string[];
  workingDir: string;
  user: string;
  /** Private directory for the bundle (config.json and /etc files). */
  bundle: string;
  rootfs: string;
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
  /** Stops the step when the client goes away. */
  signal?: AbortSignal;
}

const ETC_FILES = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];

/**
 * Runs the command to completion and resolves with its exit code. Build steps keep their own
 * runc state root, apart from containers', so neither side reaps the other's.
 */
export async function runInRootfs(engine: Engine, req: RunRequest): Promise<number> {
  const hostname = req.id.slice(0, 12);
  const etc = {
    hosts: path.join(req.bundle, 'hosts'),
    hostname: path.join(req.bundle, 'hostname'),
    resolvConf: path.join(req.bundle, 'resolv.conf'),
  };
  fs.writeFileSync(etc.hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  fs.writeFileSync(etc.hostname, `${hostname}\n`);
  let resolv = '';
  try { resolv = fs.readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* none on the host */ }
  fs.writeFileSync(etc.resolvConf, resolv);

  const user = resolveUser(req.rootfs, req.user);
  const cwd = req.workingDir || '/';
  // Docker creates the working directory (and, in the init layer, the /etc files) before the
  // process starts; files the image lacks are not bind-mounted, so they never land in the layer.
  if (cwd !== '/') mkdirInRoot(req.rootfs, cwd);
  const spec = buildSpec({
    id: req.id,
    rootfs: req.rootfs,
    readonlyRootfs: false,
    args: req.args,
    env: req.env,
    cwd,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    tty: false,
    hostname,
    privateNetwork: false,
    etcFiles: etc,
    mounts: [],
  });
  const mounts = spec.mounts as { destination: string }[];
  spec.mounts = mounts.filter((m) => !ETC_FILES.includes(m.destination) || existsInRoot(req.rootfs, m.destination));
  fs.writeFileSync(path.join(req.bundle, 'config.json'), JSON.stringify(spec));

  return runForeground(path.join(engine.config.execRoot, 'build-runc'), req);
}

/**
 * `runc run` in the foreground with our own pipes, listened to from the first byte: a step
 * that prints and exits at once must not lose its output.
 */
function runForeground(stateRoot: string, req: RunRequest): Promise<number> {
  fs.mkdirSync(stateRoot, { recursive: true, mode: 0o700 });
  const logFile = path.join(req.bundle, 'runc.log');
  const pidFile = path.join(req.bundle, 'init.pid');
  const args = ['--root', stateRoot, '--log', logFile, '--log-format', 'json', 'run', '--bundle', req.bundle, '--pid-file', pidFile, req.id];
  return new Promise((resolve, reject) => {
    const child = spawn('runc', args, { cwd: req.bundle, stdio: ['ignore', 'pipe', 'pipe'] });
    // The command is PID 1 of its namespace, which ignores SIGTERM: kill it as Docker cancels a build.
    const onAbort = () => execFile('runc', ['--root', stateRoot, 'kill', req.id, 'KILL'], () => undefined);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const forgetExitHook = killOnExit(stateRoot, req.id);
    child.stdout.on('data', req.onStdout);
    child.stderr.on('data', req.onStderr);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      req.signal?.removeEventListener('abort', onAbort);
      forgetExitHook();
      if (!fs.existsSync(pidFile)) {
        reject(new BuildError(`OCI runtime create failed: ${runcError(logFile) || 'runc failed'}: unknown`));
        return;
      }
      resolve(code ?? 128 + (signal ? (os.constants.signals as Record<string, number>)[signal] ?? 0 : 0));
    });
  });
}

function runcError(logFile: string): string {
  let msg = '';
  try {
    for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
      try {
        const rec = JSON.parse(line) as { level?: string; msg?: string };
        if (rec.level === 'error' || rec.level === 'fatal') msg = rec.msg ?? msg;
      } catch { /* not JSON */ }
    }
  } catch { /* no log */ }
  return msg.replace(/^runc run failed: /, 'runc create failed: ');
}

function existsInRoot(root: string, p: string): boolean {
  try {
    fs.lstatSync(secureJoin(root, p));
    return true;
  } catch {
    return false;
  }
}
