// `strata daemon`: builds the engine bottom-up (metadata → storage driver → images, volumes
// → containers), then serves the Engine API on a unix socket until SIGTERM/SIGINT.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MetaDb } from './meta/db.js';
import { createLogger, type LogLevel } from './util/log.js';
import { chooseDriver } from './snapshot/choose.js';
import type { DriverName } from './snapshot/snapshotter.js';
import type { BuildBackend } from './builder/backend.js';
import type { BackupBackend } from './backup/backend.js';
import type { DistributionBackend } from './distribution/backend.js';
import { deferred } from './util/deferred.js';
import { acquireDataRootLock } from './system/lock.js';
import { socketPathOf } from './util/socket-path.js';
import { sweepScratch } from './system/recovery.js';
import { daemonLogConfig } from './container/log-config.js';
import type { DaemonConfig, Engine } from './engine.js';
import { loadDefaultSeccompProfile } from './runtime/seccomp-default.js';
import { runcVersion, runcWarning } from './runtime/runc-version.js';
import { networkNamespaceDir } from './network/netns.js';

/**
 * The engine's rooms and the API: most of the daemon's code, and the longest part of a start
 * (some 200 modules, about 100 ms of CPU on a quiet 2-core machine). They load while the start
 * waits on the kernel, runc and the disk (the lock, the storage probe's mount, runc's version,
 * the scratch sweep) instead of before it. Exported for the test that lists what a start loads.
 */
export async function loadRooms() {
  const [
    { openMetaDb },
    { EventBus },
    { createSnapshotter },
    { createImageService },
    { ImageStoreBackend },
    { createVolumeService },
    { createContainerService },
    { createNetworkService },
    { createApiServer },
    { buildRouter },
    { withUsageCache },
    { UsageWarmer },
    { Activity },
    { followContainerEvents },
    { recoverReferences },
    { sweepProjectQuotas },
    { ProjectIds },
    { snapshotKeyOf },
    { detachMountsUnder, shutdownOnSignals, trackConnections },
    { memoryReleaser },
  ] = await Promise.all([
    import('./meta/db.js'),
    import('./system/events.js'),
    import('./snapshot/index.js'),
    import('./image/service.js'),
    import('./image/store-backend.js'),
    import('./volume/service.js'),
    import('./container/service.js'),
    import('./network/service.js'),
    import('./api/server.js'),
    import('./api/routes.js'),
    import('./system/cached-snapshotter.js'),
    import('./system/usage-warmer.js'),
    import('./system/activity.js'),
    import('./system/usage-cache.js'),
    import('./system/recovery.js'),
    import('./system/project-quota-sweep.js'),
    import('./system/project-ids.js'),
    import('./container/context.js'),
    import('./system/shutdown.js'),
    import('./util/release-memory.js'),
  ]);
  return {
    openMetaDb,
    EventBus,
    createSnapshotter,
    createImageService,
    ImageStoreBackend,
    createVolumeService,
    createContainerService,
    createNetworkService,
    createApiServer,
    buildRouter,
    withUsageCache,
    UsageWarmer,
    Activity,
    followContainerEvents,
    recoverReferences,
    sweepProjectQuotas,
    ProjectIds,
    snapshotKeyOf,
    detachMountsUnder,
    shutdownOnSignals,
    trackConnections,
    memoryReleaser,
  };
}

export interface DaemonOptions {
  dataRoot: string;
  host: string;
  storageDriver?: string;
  execRoot?: string;
  logLevel: string;
  /** host:port for Prometheus metrics; off when unset. */
  metricsAddr?: string;
  /** daemon.json `log-driver` and `log-opts`: the default logging of new containers. */
  logDriver?: string;
  logOpts?: Record<string, unknown>;
  /** A seccomp profile file in Docker's format to use instead of Docker's default. */
  seccompProfile?: string;
  /** Registries spoken to without verified TLS (loopback ones always are). */
  insecureRegistries?: string[];
  /** Mirrors tried before Docker Hub. */
  registryMirrors?: string[];
  /** Root of per-registry TLS material (default /etc/docker/certs.d). */
  certsDir?: string;
  /** daemon.json `init` / `init-path`: the default for --init, and the binary. */
  init?: boolean;
  initPath?: string;
}

export async function runDaemon(opts: DaemonOptions): Promise<void> {
  const log = createLogger(opts.logLevel as LogLevel);
  const loading = loadRooms();
  // Awaited below, once the probes are done; a failure before then must not count as unhandled.
  loading.catch(() => undefined);
  const runc = runcVersion();
  const logConfig = daemonLogConfig(opts.logDriver, opts.logOpts);
  const socketPath = socketPathOf(opts.host);
  const dataRoot = path.resolve(opts.dataRoot);
  fs.mkdirSync(dataRoot, { recursive: true, mode: 0o711 });
  const releaseLock = acquireDataRootLock(dataRoot);

  const requested = opts.storageDriver;
  const drivers = ['overlay2', 'fuse-overlayfs', 'vfs', 'btrfs'];
  if (requested && !drivers.includes(requested)) {
    throw new Error(`unknown storage driver "${requested}": choose overlay2, fuse-overlayfs, vfs or btrfs`);
  }
  const storageDriver = (requested as DriverName | undefined) ?? (await chooseDriver(dataRoot));
  const execRoot = path.resolve(opts.execRoot ?? path.join(path.dirname(socketPath), 'exec'));
  const config: DaemonConfig = {
    dataRoot,
    socketPath,
    storageDriver,
    execRoot,
    logLevel: opts.logLevel,
    logDriver: logConfig.Type,
  };
  for (const d of ['tmp', 'containers', 'volumes', 'content'])
    fs.mkdirSync(path.join(dataRoot, d), { recursive: true, mode: 0o710 });
  fs.mkdirSync(execRoot, { recursive: true, mode: 0o700 });
  // A restore or import killed while swapping a volume's content is finished from its journal
  // in tmp/ (its scratch, volume-backup-*), before tmp/ is emptied. The backup room loads only then.
  const tmp = path.join(dataRoot, 'tmp');
  if (fs.readdirSync(tmp).some((n) => n.startsWith('volume-backup-')))
    await (await import('./backup/swap.js')).finishSwaps(tmp, log);
  await sweepScratch(dataRoot, execRoot, log);

  const seccomp = loadDefaultSeccompProfile(opts.seccompProfile);
  const security = { options: [] as string[], warnings: [] as string[] };
  if (seccomp.profile) security.options.push(`name=seccomp,profile=${opts.seccompProfile ?? 'default'}`);
  const runcWarn = runcWarning(await runc);
  // prom-client is loaded only by a daemon that serves metrics.
  const metricsRoom = opts.metricsAddr ? await import('./system/metrics.js') : undefined;
  const metricsWarn = opts.metricsAddr ? metricsRoom?.metricsAddrWarning(opts.metricsAddr) : undefined;
  for (const w of [seccomp.warning, runcWarn, metricsWarn]) {
    if (!w) continue;
    security.warnings.push(w);
    log.warn(w);
  }

  const rooms = await loading;
  const db = rooms.openMetaDb(path.join(dataRoot, 'strata.db'));
  const events = new rooms.EventBus();
  const driver = await rooms.createSnapshotter(storageDriver, {
    root: path.join(dataRoot, 'snapshots', storageDriver),
    db,
    log,
  });
  await driver.cleanup();
  const { snapshotter, cache: usageCache } = rooms.withUsageCache(driver);
  const images = await rooms.createImageService({ db, dataRoot, snapshotter, log, events });
  const volumes = await rooms.createVolumeService({ db, dataRoot, log, events });
  const networks = await rooms.createNetworkService({ db, execRoot, log, events });
  const containers = await rooms.createContainerService({
    db,
    dataRoot,
    execRoot,
    snapshotter,
    images,
    volumes,
    log,
    events,
    logConfig,
    seccompProfile: seccomp.profile,
    init: { path: opts.initPath, default: opts.init },
    networking: networks,
  });
  images.setContainerUsage((id) => containers.usersOfImage(id));
  rooms.followContainerEvents(events, usageCache, rooms.snapshotKeyOf);

  // Rooms most daemons seldom use are loaded at their first call: an idle daemon keeps
  // neither their code nor their libraries resident.
  const distribution = deferred<DistributionBackend>(async () => {
    const [{ DistributionService }, { DEFAULT_CERTS_DIR }] = await Promise.all([
      import('./distribution/service.js'),
      import('./distribution/endpoint.js'),
    ]);
    return new DistributionService({
      db,
      dataRoot,
      images,
      events,
      log,
      registry: {
        insecureRegistries: opts.insecureRegistries ?? [],
        mirrors: opts.registryMirrors ?? [],
        certsDir: opts.certsDir ?? DEFAULT_CERTS_DIR,
      },
    });
  });
  const builder = deferred<BuildBackend>(async () => {
    const { BuilderService } = await import('./builder/service.js');
    return new BuilderService({
      dataRoot,
      execRoot,
      log,
      snapshotter,
      images,
      containers,
      pull: (ref, out) => distribution.pull(ref, undefined, {}, out),
    });
  });
  const backups = deferred<BackupBackend>(async () => {
    const [{ VolumeBackups }, { pauseFreezer }] = await Promise.all([
      import('./backup/service.js'),
      import('./backup/freeze.js'),
    ]);
    return new VolumeBackups({ volumes, containers, freezer: pauseFreezer(containers), dataRoot, log });
  });
  const engine: Engine = {
    config,
    db,
    log,
    events,
    snapshotter,
    images: new rooms.ImageStoreBackend(images),
    containers,
    volumes,
    networks,
    builder,
    backups,
    distribution,
    usageCache,
    activity: new rooms.Activity(),
    daemonId: daemonId(db),
    security,
  };
  await rooms.recoverReferences(engine);
  // Every room has removed what it recovers: a project ID no directory carries is a crash's.
  await rooms.sweepProjectQuotas(dataRoot, new rooms.ProjectIds(db), log);
  const server = rooms.createApiServer(engine, rooms.buildRouter());

  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 });
  fs.rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  fs.chmodSync(socketPath, 0o660);
  const warmer = new rooms.UsageWarmer(engine, usageCache);
  warmer.start();
  // A burst of requests (hundreds of runs, a df of every container) leaves garbage and freed
  // pages behind like a load does: given back once the daemon is quiet, SQLite's page cache too.
  rooms.memoryReleaser.onRelease(() => {
    if (!db.open) return false;
    db.pragma('shrink_memory');
  });
  rooms.memoryReleaser.follow(engine.activity);
  const metrics =
    metricsRoom && opts.metricsAddr ? await metricsRoom.serveMetrics(engine, opts.metricsAddr) : undefined;
  if (opts.metricsAddr) log.info(`metrics on http://${opts.metricsAddr}/metrics`);
  log.info(`Strata ${storageDriver} on ${dataRoot}, API listening on unix://${socketPath}`);

  const connections = rooms.trackConnections(server);
  rooms.shutdownOnSignals({
    log,
    graceSeconds: () => containers.shutdownSeconds(),
    async graceful(pending) {
      // Every open connection ends now: a pending wait, an events stream or a hijacked attach
      // would otherwise hold the server's close forever.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      const dropped = connections.destroyAll();
      if (dropped) log.info(`closed ${dropped} open connection(s)`);
      metrics?.close();
      // The disk-usage walks are called off, not waited through: each ends at its next directory.
      await pending.track('ending the disk-usage walks', Promise.all([warmer.stop(), usageCache.close()]));
      await pending.track(
        () => `stopping containers: ${containers.stillRunning().join(', ') || 'none left'}`,
        containers.shutdown().catch((e: unknown) => log.warn(`container shutdown: ${e}`)),
      );
      await pending.track('closing the API server', closed);
      db.close();
      fs.rmSync(socketPath, { force: true });
      releaseLock();
    },
    force() {
      containers.killAllNow();
      // Network namespaces stay for the next start's network recovery, which tears them down.
      const failed = rooms.detachMountsUnder([dataRoot, execRoot], [networkNamespaceDir(execRoot)]);
      if (failed.length) log.error(`forced shutdown: still mounted: ${failed.join('; ')}`);
      fs.rmSync(socketPath, { force: true });
      releaseLock();
    },
  });
}

function daemonId(db: MetaDb): string {
  const row = db.prepare("SELECT value FROM daemon WHERE key = 'id'").get() as { value: string } | undefined;
  if (row) return row.value;
  const id = randomBytes(16).toString('hex').toUpperCase().match(/.{4}/g)!.join(':');
  db.prepare("INSERT INTO daemon (key, value) VALUES ('id', ?)").run(id);
  return id;
}
