// The volume service: metadata in SQLite (the source of truth), bytes through drivers (`local`
// or v1 plugins), container references that keep a volume from removal and prune, lazily
// mounted driver filesystems, and the first-use copy of image content.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import { spreadNewDirectories } from '../snapshot/spread.js';
import type { EventBus } from '../system/events.js';
import { Conflict, InvalidParameter, NotFound, withContext } from '../errors.js';
import { directoryUsage } from '../snapshot/usage.js';
import type { CreateVolumeOptions, PruneReport, VolumeRecord, VolumeService, VolumeUsage } from './types.js';
import type { VolumeDriver } from './driver.js';
import { LocalDriver } from './local-driver.js';
import { needsMount } from './local-options.js';
import { PluginRegistry, pluginDirsFromEnv } from './plugin-registry.js';
import { PluginVolumeDriver } from './plugin-driver.js';
import { VolumeStore, rfc3339Now, type VolumeRow } from './store.js';
import { ProjectIds } from '../system/project-ids.js';
import { KeyedLock } from './keyed-lock.js';
import { generateVolumeName, validateLocalVolumeName } from './names.js';
import { ANONYMOUS_LABEL, pruneFilter } from './filters.js';
import { copyIntoEmptyVolume } from './populate.js';
import { recoverVolumes } from './recover.js';

export interface VolumeServiceDeps {
  db: MetaDb;
  dataRoot: string;
  log: Logger;
  events: EventBus;
  /** Where v1 plugins are discovered; default STRATA_PLUGIN_DIRS or Docker's three directories. */
  pluginDirs?: string[];
}

/** `op name: message`, keeping the error's class (and so its HTTP status), as moby's OpErr does. */
export async function createVolumeService(deps: VolumeServiceDeps): Promise<VolumeService> {
  const root = path.join(deps.dataRoot, 'volumes');
  const tmp = path.join(deps.dataRoot, 'tmp');
  fs.mkdirSync(root, { recursive: true, mode: 0o701 });
  spreadNewDirectories(root, deps.log);
  fs.mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const store = new VolumeStore(deps.db);
  const local = new LocalDriver({ root, tmp, log: deps.log, projectIds: new ProjectIds(deps.db) });
  await recoverVolumes(store, local, root, deps.log);
  return new Volumes(deps, store, local, new PluginRegistry(deps.pluginDirs ?? pluginDirsFromEnv()));
}

class Volumes implements VolumeService {
  private readonly lock = new KeyedLock();
  private readonly plugins = new Map<string, PluginVolumeDriver>();
  private pruning = false;

  constructor(
    private readonly deps: VolumeServiceDeps,
    private readonly store: VolumeStore,
    private readonly local: LocalDriver,
    private readonly registry: PluginRegistry,
  ) {}

  private async driver(name: string): Promise<VolumeDriver> {
    if (name === 'local') return this.local;
    let d = this.plugins.get(name);
    if (!d) {
      d = new PluginVolumeDriver(await this.registry.get(name));
      this.plugins.set(name, d);
    }
    return d;
  }

  private row(name: string): VolumeRow {
    const r = this.store.get(name);
    if (!r) throw new NotFound(`get ${name}: no such volume`);
    return r;
  }

  private async record(r: VolumeRow): Promise<VolumeRecord> {
    let mountpoint = '';
    let status: Record<string, unknown> | undefined;
    if (r.driver === 'local') {
      mountpoint = this.local.dataPath(r.name);
    } else {
      try {
        const d = await this.driver(r.driver);
        mountpoint = await d.path(r.name, r.options);
        status = await d.status?.(r.name);
      } catch (err) {
        this.deps.log.warn(`volume ${r.name}: driver ${r.driver}: ${(err as Error).message}`);
      }
    }
    return {
      name: r.name,
      driver: r.driver,
      mountpoint,
      createdAt: r.createdAt,
      labels: r.labels,
      options: r.options,
      scope: r.scope,
      anonymous: r.anonymous,
      ...(status ? { status } : {}),
    };
  }

  async create(opts: CreateVolumeOptions): Promise<VolumeRecord> {
    const anonymous = opts.anonymous === true || !opts.name;
    const name = opts.name || generateVolumeName();
    const labels = { ...(opts.labels ?? {}) };
    if (anonymous) labels[ANONYMOUS_LABEL] = '';
    return this.lock.run(name, async () => {
      const existing = this.store.get(name);
      if (existing) {
        if (opts.driver && opts.driver !== existing.driver) {
          // dockerd resolves the requested driver before it reports the conflict.
          try {
            await this.driver(opts.driver);
          } catch (err) {
            throw withContext(`create ${name}`, err);
          }
          throw new Conflict(
            `create ${name}: driver '${existing.driver}' already has volume '${name}': volume name must be unique`,
          );
        }
        // Docker returns the existing volume as is: new labels and options are ignored.
        return this.record(existing);
      }
      const driverName = opts.driver || 'local';
      const options = { ...(opts.driverOpts ?? {}) };
      let driver: VolumeDriver;
      try {
        driver = await this.driver(driverName);
        await driver.create(name, options);
      } catch (err) {
        throw withContext(`create ${name}`, err);
      }
      const row: VolumeRow = {
        name,
        driver: driverName,
        labels,
        options,
        createdAt: rfc3339Now(),
        anonymous,
        scope: driver.scope,
      };
      this.store.insert(row);
      this.deps.events.emitEvent('volume', 'create', name, { driver: driverName });
      return this.record(row);
    });
  }

  async get(name: string): Promise<VolumeRecord> {
    return this.record(this.row(name));
  }

  async list(): Promise<VolumeRecord[]> {
    return Promise.all(this.store.all().map((r) => this.record(r)));
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.lock.run(name, async () => {
      const r = this.store.get(name);
      if (!r) {
        if (opts.force) return;
        throw new NotFound(`get ${name}: no such volume`);
      }
      const users = this.store.users(name);
      if (users.length > 0) throw new Conflict(`remove ${name}: volume is in use - [${users.join(' ')}]`);
      try {
        await (await this.driver(r.driver)).remove(name, r.options);
      } catch (err) {
        // force drops the record even when a plugin is gone or refuses, as dockerd's purge does.
        if (!opts.force || (r.driver === 'local' && err instanceof Conflict)) throw withContext(`remove ${name}`, err);
        this.deps.log.warn(`volume ${name}: driver ${r.driver} remove: ${(err as Error).message}; purging the record`);
      }
      this.store.delete(name);
      this.deps.events.emitEvent('volume', 'destroy', name, { driver: r.driver });
    });
  }

  /**
   * Gives a local volume a new name, keeping its content, labels and options (a Strata
   * extension: Docker has none, moby#31154). Refused while any container refers to it. A
   * renamed anonymous volume becomes a named one: the user has chosen its name.
   */
  async rename(from: string, to: string): Promise<VolumeRecord> {
    const [first, second] = [from, to].sort();
    return this.lock.run(first!, () =>
      this.lock.run(second!, async () => {
        const r = this.row(from);
        if (r.driver !== 'local')
          throw new InvalidParameter(`rename ${from}: only local volumes can be renamed (driver ${r.driver})`);
        try {
          validateLocalVolumeName(to);
        } catch (err) {
          throw withContext(`rename ${from}`, err);
        }
        if (this.store.get(to)) throw new Conflict(`rename ${from}: a volume named ${to} already exists`);
        const users = this.store.users(from);
        if (users.length > 0) throw new Conflict(`rename ${from}: volume is in use - [${users.join(' ')}]`);
        const labels = { ...r.labels };
        delete labels[ANONYMOUS_LABEL];
        const renamed: VolumeRow = { ...r, name: to, labels, anonymous: false };
        this.store.beginRename(from, renamed);
        try {
          this.local.rename(from, to);
        } catch (err) {
          this.store.undoRename(r, to);
          throw withContext(`rename ${from}`, err);
        }
        this.store.finishRename(to);
        this.deps.events.emitEvent('volume', 'rename', to, { driver: r.driver, oldName: from });
        return this.record(renamed);
      }),
    );
  }

  reference(name: string, containerId: string): void {
    this.row(name);
    this.store.addRef(name, containerId);
  }

  release(name: string, containerId: string): void {
    this.store.dropRef(name, containerId);
  }

  users(name: string): string[] {
    return this.store.users(name);
  }

  async mount(name: string, containerId: string): Promise<string> {
    return this.lock.run(name, async () => {
      const r = this.row(name);
      const p = await (await this.driver(r.driver)).mount(name, r.options, containerId);
      this.deps.events.emitEvent('volume', 'mount', name, { driver: r.driver, container: containerId });
      return p;
    });
  }

  async unmount(name: string, containerId: string): Promise<void> {
    await this.lock.run(name, async () => {
      const r = this.store.get(name);
      if (!r) return;
      await (await this.driver(r.driver)).unmount(name, r.options, containerId);
      this.deps.events.emitEvent('volume', 'unmount', name, { driver: r.driver, container: containerId });
    });
  }

  async populate(name: string, fromDir: string): Promise<void> {
    await this.lock.run(name, async () => {
      const r = this.row(name);
      if (r.driver === 'local' && !needsMount(r.options)) {
        await copyIntoEmptyVolume(fromDir, this.local.dataPath(name));
        return;
      }
      // A driver filesystem must be mounted to be filled; like dockerd, mount it just for the copy.
      const id = `populate-${randomBytes(8).toString('hex')}`;
      const d = await this.driver(r.driver);
      const dir = await d.mount(name, r.options, id);
      try {
        await copyIntoEmptyVolume(fromDir, dir);
      } finally {
        await d.unmount(name, r.options, id);
      }
    });
  }

  async prune(filters: Map<string, string[]>): Promise<PruneReport> {
    const wanted = pruneFilter(filters);
    if (this.pruning) throw new Conflict('a prune operation is already running');
    this.pruning = true;
    try {
      const report: PruneReport = { deleted: [], spaceReclaimed: 0 };
      for (const r of this.store.all()) {
        // Only local volumes without options: a tmpfs or a bind of a host directory frees nothing.
        if (r.driver !== 'local' || Object.keys(r.options).length > 0 || !wanted(this.toFilterable(r))) continue;
        if (this.store.users(r.name).length > 0 || this.local.isActive(r.name)) continue;
        try {
          const { size } = await directoryUsage(this.local.dataPath(r.name));
          await this.remove(r.name);
          report.deleted.push(r.name);
          report.spaceReclaimed += size;
        } catch (err) {
          this.deps.log.warn(`prune volume ${r.name}: ${(err as Error).message}`);
        }
      }
      this.deps.events.emitEvent('volume', 'prune', '', { reclaimed: String(report.spaceReclaimed) });
      return report;
    } finally {
      this.pruning = false;
    }
  }

  async diskUsage(
    sizeOf: (name: string, dir: string) => Promise<number> = async (_n, dir) => (await directoryUsage(dir)).size,
  ): Promise<VolumeUsage[]> {
    const refs = this.store.refCounts();
    const out: VolumeUsage[] = [];
    for (const r of this.store.all()) {
      if (r.driver !== 'local' || Object.keys(r.options).length > 0) continue;
      let size = -1; // Docker's figure for a size it could not take
      try {
        size = await sizeOf(r.name, this.local.dataPath(r.name));
      } catch {
        /* removed meanwhile */
      }
      out.push({ volume: await this.record(r), size, refCount: refs.get(r.name) ?? 0 });
    }
    return out;
  }

  pluginNames(): string[] {
    return this.registry.names();
  }

  private toFilterable(r: VolumeRow): VolumeRecord {
    return { ...r, mountpoint: this.local.dataPath(r.name) };
  }
}
