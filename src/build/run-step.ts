// RUN: the command runs under runc in the step's workspace root, as the build container would,
// with the image's Env (plus build args), WorkingDir and User; stdout and stderr stream into the
// build output (stderr in red, as Docker's classic builder prints it). The writable layer is
// what the workspace exports afterwards.
import fs from 'node:fs';
import path from 'node:path';
import type { Engine } from '../engine.js';
import { buildSpec } from '../runtime/oci-spec.js';
import { createRuncRuntime } from '../runtime/runc.js';
import type { ContainerRuntime } from '../runtime/types.js';
import { resolveUser } from '../runtime/user.js';
import { mkdirInRoot, secureJoin } from '../runtime/rootfs-path.js';

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
}

const runtimes = new WeakMap<Engine, ContainerRuntime>();

/** One runc state root for build steps, apart from containers' so neither side reaps the other's. */
function runtimeOf(engine: Engine): ContainerRuntime {
  let rt = runtimes.get(engine);
  if (!rt) {
    rt = createRuncRuntime({ stateRoot: path.join(engine.config.execRoot, 'build-runc') });
    runtimes.set(engine, rt);
  }
  return rt;
}

const ETC_FILES = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'];

/** Runs the command to completion and resolves with its exit code. */
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

  const rt = runtimeOf(engine);
  const proc = await rt.run(req.id, req.bundle, { tty: false, stdin: false });
  proc.stdout.on('data', req.onStdout);
  proc.stderr?.on('data', req.onStderr);
  // The runtime resolves `exited` once runc is gone and its stdio pipes are drained.
  const code = await proc.exited;
  await rt.delete(req.id);
  return code;
}

function existsInRoot(root: string, p: string): boolean {
  try {
    fs.lstatSync(secureJoin(root, p));
    return true;
  } catch {
    return false;
  }
}
