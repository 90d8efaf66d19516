// /_ping, /version, /info and /events.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { dataRootFilesystem } from '../system/disk-usage.js';
import { hostCapabilities } from '../system/host-capabilities.js';
import type { Router } from './router.js';
import { registerPingRoute } from './ping.js';
import { API_VERSION, MIN_API_VERSION } from './version.js';
import { STRATA_VERSION } from '../version.js';
import { parseFilters } from './http.js';
import { parseUntil } from '../util/until.js';
import { InvalidParameter } from '../errors.js';
import { eventJson, type DockerEvent } from '../system/events.js';
import type { ContainerViews } from '../container/backend.js';
import type { ImageViews } from '../image/backend.js';

export function registerSystemRoutes(router: Router): void {
  registerPingRoute(router);

  router.get('/version', () => {
    const details = {
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: os.release(),
    };
    return {
      Platform: { Name: 'Strata Engine' },
      Components: [
        {
          Name: 'Engine',
          Version: STRATA_VERSION,
          Details: { ...details, GitCommit: '', GoVersion: process.version, BuildTime: '', Experimental: 'false' },
        },
      ],
      Version: STRATA_VERSION,
      ...details,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      BuildTime: '',
    };
  });

  router.get('/info', async ({ engine }) => {
    const { config, snapshotter } = engine;
    const containerViews: ContainerViews = engine.containers;
    const imageViews: ImageViews = engine.images;
    const containers = await containerViews.list();
    const running = containers.filter((c) => c.state.Running).length;
    const paused = containers.filter((c) => c.state.Status === 'paused').length;
    const images = await imageViews.list();
    const { warnings: hostWarnings, ...host } = hostCapabilities();
    return {
      ID: engine.daemonId,
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: containers.length - running - paused,
      Images: images.length,
      Driver: snapshotter.driver,
      DriverStatus: nullIfEmpty(await snapshotter.status()),
      Plugins: {
        Volume: ['local', ...engine.volumes.pluginNames()],
        Network: ['host', 'null'],
        Authorization: null,
        Log: ['json-file', 'local'],
      },
      MemoryLimit: host.MemoryLimit,
      SwapLimit: host.SwapLimit,
      KernelMemory: host.KernelMemory,
      KernelMemoryTCP: host.KernelMemoryTCP,
      CpuCfsPeriod: host.CpuCfsPeriod,
      CpuCfsQuota: host.CpuCfsQuota,
      CPUShares: host.CPUShares,
      CPUSet: host.CPUSet,
      PidsLimit: host.PidsLimit,
      IPv4Forwarding: host.IPv4Forwarding,
      BridgeNfIptables: host.BridgeNfIptables,
      BridgeNfIp6tables: host.BridgeNfIp6tables,
      Debug: config.logLevel === 'debug',
      NFd: 0,
      OomKillDisable: host.OomKillDisable,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: config.logDriver,
      // runc is given cgroupfs paths (/strata/<id>) on either hierarchy.
      CgroupDriver: 'cgroupfs',
      CgroupVersion: host.CgroupVersion,
      NEventsListener: engine.events.listenerCount('event'),
      KernelVersion: os.release(),
      OperatingSystem: osName(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: '',
      RegistryConfig: null,
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: config.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: STRATA_VERSION,
      Runtimes: { runc: { path: 'runc' } },
      DefaultRuntime: 'runc',
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: false,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: '' },
      InitCommit: { ID: '' },
      SecurityOptions: engine.security.options,
      Warnings: nullIfEmpty([...hostWarnings, ...engine.security.warnings, ...storageWarnings(config.dataRoot)]),
    };
  });

  router.get('/events', ({ engine, query, res }) => {
    const filters = parseFilters(query);
    const match = (e: DockerEvent): boolean => {
      const types = filters.get('type');
      if (types && !types.includes(e.Type)) return false;
      const events = filters.get('event');
      if (events && !events.some((a) => e.Action === a || e.Action.startsWith(a + ':'))) return false;
      const ids = [
        ...(filters.get('container') ?? []),
        ...(filters.get('volume') ?? []),
        ...(filters.get('image') ?? []),
      ];
      if (ids.length && !ids.some((id) => e.Actor.ID.startsWith(id) || e.Actor.Attributes.name === id)) return false;
      return true;
    };
    const sinceRaw = query.get('since') || undefined;
    const untilRaw = query.get('until') || undefined;
    const sinceMs = sinceRaw ? parseUntil(sinceRaw) : undefined;
    const untilMs = untilRaw ? parseUntil(untilRaw) : undefined;
    if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs) {
      throw new InvalidParameter(`\`since\` time (${sinceRaw}) cannot be after \`until\` time (${untilRaw})`);
    }
    // The head goes out before any event: Go's client waits for it, and a quiet daemon may
    // have nothing to say for hours.
    res!.writeHead(200, { 'Content-Type': 'application/json' });
    res!.flushHeaders();
    const send = (e: DockerEvent) => {
      if (match(e)) res!.write(eventJson(e) + '\n');
    };
    // Like dockerd, either bound replays what is still buffered; `until` alone replays from the start.
    if (sinceMs !== undefined || untilMs !== undefined) {
      // Fractions of a millisecond in "1700000000.123456789" are kept to the microsecond.
      const nanosOf = (ms: number) => BigInt(Math.round(ms * 1000)) * 1000n;
      const untilNano = untilMs === undefined ? undefined : nanosOf(untilMs);
      engine.events
        .since(nanosOf(sinceMs ?? 0))
        .filter((e) => untilNano === undefined || e.timeNano <= untilNano)
        .forEach(send);
    }
    if (untilMs !== undefined && untilMs <= Date.now()) {
      res!.end();
      return;
    }
    engine.events.on('event', send);
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearTimeout(timer);
      engine.events.off('event', send);
      if (!res!.writableEnded) res!.end();
    };
    // The response's close, not the request's: a GET's request is over as soon as it is read.
    res!.on('close', stop);
    if (untilMs !== undefined) timer = setTimeout(stop, untilMs - Date.now()).unref();
  });
}

/** Docker sends null, not [], when a driver has nothing to report (vfs). */
function nullIfEmpty<T>(list: T[]): T[] | null {
  return list.length ? list : null;
}

function goArch(): string {
  const a = os.arch();
  return a === 'x64' ? 'amd64' : a;
}

function osName(): string {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

/** A warning when the data-root's filesystem is nearly out of bytes or inodes. */
function storageWarnings(dataRoot: string): string[] {
  try {
    const s = dataRootFilesystem(dataRoot);
    const out: string[] = [];
    if (s.Size > 0 && s.Free / s.Size < 0.05) out.push(`WARNING: less than 5% of disk space is free on ${dataRoot}`);
    if (s.Inodes > 0 && s.InodesFree / s.Inodes < 0.05)
      out.push(`WARNING: less than 5% of inodes are free on ${dataRoot}`);
    return out;
  } catch {
    return [];
  }
}
