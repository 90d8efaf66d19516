// Starting a container: rootfs mounted, mounts and user resolved, /etc files written, the
// OCI bundle generated, runc started in the foreground as the daemon's child. The exit
// handler records the exit code, answers waiters, then undoes all of it (mounts, bundle).
import fs from 'node:fs';
import { InvalidParameter, Forbidden, StrataError, SystemError } from '../errors.js';
import { buildSpec, capabilities } from '../runtime/oci-spec.js';
import { confinementOf } from './security-opts.js';
import { mkdirInRoot } from '../runtime/rootfs-path.js';
import { resolveUser } from '../runtime/user.js';
import { RuntimeError } from '../runtime/runc.js';
import type { Ctx, Live } from './context.js';
import { bundleDir, containerDir, emit, liveOf, nowIso } from './context.js';
import { processEnv } from './config-merge.js';
import { writeEtcFiles } from './etc-files.js';
import { ociResources, ociSysctls } from './resources.js';
import { releaseStartMounts, startMounts } from './mount-points.js';
import { stagingDirOf } from '../mount/staging.js';
import { acquireRootfs, releaseRootfs } from './rootfs.js';
import type { ContainerRecord } from './types.js';
import { rotationOf } from './log-config.js';
import { logTargetOf } from './log-target.js';
import { validateExtraHosts } from './extra-hosts.js';
import { inOperation, isNoSpace, noSpaceAt } from '../util/no-space.js';
import { stopHealthMonitor } from './health.js';
import { findInitBinary, wantsInit, withInit } from './init-process.js';
import { setupNetworking, teardownNetworking } from './networking.js';
import { etcFilesOf } from './etc-files.js';
import { linkedView } from './links.js';
import { releaseIpc, setupIpc } from './ipc.js';
import { pidUtsOf } from './pid-uts.js';

/** Starts `rec`; the caller holds the container's lock and has checked it is not running. */
export async function startContainer(ctx: Ctx, rec: ContainerRecord): Promise<void> {
  const live = liveOf(ctx, rec.id);
  // The previous run may still be tearing down (unmounts) after its exit was recorded.
  await live.exited;
  const cfg = rec.config;
  const hc = rec.hostConfig;
  live.log.use(logTargetOf(containerDir(ctx, rec.id), rec.id, hc.LogConfig?.Type));
  live.log.configure(rotationOf(hc.LogConfig?.Config, hc.LogConfig?.Type));
  const rootfs = await acquireRootfs(ctx, rec).catch((err: unknown) => {
    throw inOperation('start', err);
  });
  let volumes: string[] = [];
  let linked = { hosts: [] as string[], env: [] as string[] };
  const bundle = bundleDir(ctx, rec.id);
  const staging = stagingDirOf(ctx.dataRoot, rec.id);
  try {
    const mounts = await startMounts(rec.mounts, ctx.volumes, rec.id, staging, ctx.snapshotter);
    volumes = mounts.volumes;
    const cwd = cfg.WorkingDir ? String(cfg.WorkingDir) : '/';
    if (cwd !== '/') {
      try {
        mkdirInRoot(rootfs, cwd);
      } catch (err) {
        throw new InvalidParameter(`failed to create working directory ${cwd}: ${(err as Error).message}`);
      }
    }
    validateExtraHosts(hc.ExtraHosts ?? []);
    const user = resolveUser(rootfs, cfg.User, hc.GroupAdd ?? []);
    linked = linkedView(ctx, rec);
    const pidUts = pidUtsOf(ctx, rec);
    const ipc = await setupIpc(ctx, rec);
    const net = await setupNetworking(ctx, rec);
    const own = net.netnsPath ? { address: net.address, nameservers: net.nameservers } : undefined;
    // With a DNS server on the network, --dns servers are its upstreams, not resolv.conf's.
    const servers = own?.nameservers.length ? [] : (hc.Dns ?? []);
    const etc = net.etcFrom
      ? etcFilesOf(net.etcFrom)
      : writeFilesIn(containerDir(ctx, rec.id), () =>
          writeEtcFiles(
            containerDir(ctx, rec.id),
            String(cfg.Hostname),
            String(cfg.Domainname ?? ''),
            [...(hc.ExtraHosts ?? []), ...linked.hosts],
            { servers, search: hc.DnsSearch ?? [], options: hc.DnsOptions ?? [] },
            own,
            net.predefined,
          ),
        );
    const tty = !!cfg.Tty;
    const size =
      hc.ConsoleSize && hc.ConsoleSize[0] ? { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } : undefined;
    const confined = confinementOf(hc, ctx.seccompProfile);
    let args = [rec.path!, ...(rec.args ?? [])];
    if (wantsInit(hc, ctx.init)) {
      const init = withInit(args, findInitBinary(ctx.init));
      args = init.args;
      mounts.oci.push(init.mount);
    }
    const spec = buildSpec({
      id: rec.id,
      rootfs,
      readonlyRootfs: !!hc.ReadonlyRootfs,
      args,
      env: processEnv({ ...cfg, Env: [...linked.env, ...(cfg.Env ?? [])] }, String(cfg.Hostname), tty),
      cwd,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      tty,
      hostname: String(cfg.Hostname),
      privateNetwork: net.isolated,
      etcFiles: etc,
      mounts: mounts.oci,
      privileged: !!hc.Privileged,
      capAdd: hc.CapAdd ?? [],
      capDrop: hc.CapDrop ?? [],
      shmSizeBytes: hc.ShmSize ?? 0,
      ...ipc,
      ...pidUts,
      consoleSize: size,
      seccomp: confined.seccomp,
      noNewPrivileges: confined.noNewPrivileges,
      maskedPaths: hc.MaskedPaths ?? undefined,
      readonlyPaths: hc.ReadonlyPaths ?? undefined,
      ...ociResources(hc),
      sysctl: ociSysctls(cfg, hc),
    });
    if (net.netnsPath) joinNetworkNamespace(spec, net.netnsPath);
    fs.rmSync(bundle, { recursive: true, force: true });
    fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
    writeFilesIn(`${bundle}/config.json`, () => fs.writeFileSync(`${bundle}/config.json`, JSON.stringify(spec)));
    live.proc = await ctx.runtime.run(rec.id, bundle, { tty, stdin: !!cfg.OpenStdin, size });
  } catch (err) {
    await teardownNetworking(ctx, rec);
    await releaseStartMounts(ctx.volumes, volumes, rec.id, staging);
    await releaseIpc(ctx, rec.id);
    await releaseRootfs(ctx, rec);
    fs.rmSync(bundle, { recursive: true, force: true });
    const mapped = mapStartError(err);
    rec.state.Error = mapped.message;
    if (err instanceof RuntimeError) rec.state.ExitCode = /permission denied/.test(mapped.message) ? 126 : 127;
    // dockerd leaves no failed start at exit code 0 (start.go): 128 unless something set one.
    else if (!rec.state.ExitCode) rec.state.ExitCode = 128;
    ctx.store.save(rec);
    throw mapped;
  }
  live.volumes = volumes;
  live.linkEnv = linked.env;
  live.stoppedByUser = false;
  const proc = live.proc;
  Object.assign(rec.state, {
    Status: 'running',
    Running: true,
    Pid: proc.pid,
    ExitCode: 0,
    Error: '',
    StartedAt: nowIso(),
  });
  ctx.store.save(rec);
  emit(ctx, 'start', rec);

  const copies: Promise<void>[] = [];
  const pump = (name: 'stdout' | 'stderr', stream: NodeJS.ReadableStream | null) => {
    if (!stream) return;
    stream.on('data', (d: Buffer) => live.hub.output(name, d));
    copies.push(live.log.consume(name, stream as never));
  };
  pump('stdout', proc.stdout);
  pump('stderr', proc.stderr);
  if (proc.stdin) live.hub.stdin.pipe(proc.stdin);
  live.exited = proc.exited.then(async (code) => {
    await Promise.all(copies);
    await onExit(ctx, rec, live, code);
  });
}

/** Runs a write of the start's own files, naming where it was writing if the disk is full. */
function writeFilesIn<T>(where: string, write: () => T): T {
  try {
    return write();
  } catch (err) {
    throw noSpaceAt(err, where);
  }
}

function mapStartError(err: unknown): StrataError {
  if (isNoSpace(err)) return inOperation('start', err) as StrataError;
  if (err instanceof StrataError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof RuntimeError) {
    if (/executable file not found|no such file or directory/.test(msg)) return new InvalidParameter(msg);
    if (/permission denied/.test(msg)) return new Forbidden(msg);
  }
  return new SystemError(msg);
}

async function onExit(ctx: Ctx, rec: ContainerRecord, live: Live, code: number): Promise<void> {
  live.tearingDown = true;
  try {
    await exitAndTearDown(ctx, rec, live, code);
  } finally {
    live.tearingDown = false;
  }
}

async function exitAndTearDown(ctx: Ctx, rec: ContainerRecord, live: Live, code: number): Promise<void> {
  live.proc = undefined;
  stopHealthMonitor(ctx, rec);
  // State first, as Docker records the exit before tearing down: an inspect right after a
  // short-lived container's start sees it exited.
  Object.assign(rec.state, { Status: 'exited', Running: false, Pid: 0, ExitCode: code, FinishedAt: nowIso() });
  ctx.store.save(rec);
  live.hub.endRun();
  // The exit is answered now, as dockerd answers it once the process is reaped: the teardown
  // below can take long (unmounting the overlay syncs everything the container wrote) and
  // nothing a client does next needs it finished, except what waits for live.exited, which
  // resolves only after it: start, remove, commit. A crash in between finds the exit recorded
  // and the rootfs still mounted, which startup recovery unmounts.
  emit(ctx, 'die', rec, { exitCode: String(code) });
  for (const w of live.exitWaiters.splice(0)) w(code);
  await teardownNetworking(ctx, rec);
  ctx.store.save(rec);
  await releaseStartMounts(ctx.volumes, live.volumes, rec.id, stagingDirOf(ctx.dataRoot, rec.id)).catch((e: unknown) =>
    ctx.log.warn(`container ${rec.id}: release mounts: ${e}`),
  );
  live.volumes = [];
  await releaseIpc(ctx, rec.id).catch((e: unknown) => ctx.log.warn(`container ${rec.id}: unmount shm: ${e}`));
  await releaseRootfs(ctx, rec).catch((e: unknown) => ctx.log.warn(`container ${rec.id}: unmount rootfs: ${e}`));
  fs.rmSync(bundleDir(ctx, rec.id), { recursive: true, force: true });
}

/** Docker's restart policies: whether this exit should start the container again. */
export function shouldRestart(ctx: Ctx, rec: ContainerRecord, live: Live): boolean {
  if (ctx.shuttingDown || live.stoppedByUser || live.removing) return false;
  const p = rec.hostConfig.RestartPolicy ?? {};
  switch (p.Name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return rec.state.ExitCode !== 0 && (!p.MaximumRetryCount || (rec.restartCount ?? 0) < p.MaximumRetryCount);
    default:
      return false;
  }
}

export { capabilities };

/** runc joins the namespace at this path instead of making a new one. */
function joinNetworkNamespace(spec: Record<string, any>, netnsPath: string): void {
  const namespaces = spec.linux.namespaces as { type: string; path?: string }[];
  const ns = namespaces.find((n) => n.type === 'network');
  if (ns) ns.path = netnsPath;
  else namespaces.push({ type: 'network', path: netnsPath });
}
