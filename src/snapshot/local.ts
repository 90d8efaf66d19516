// What overlay2 and vfs share: metadata in SQLite, one directory per snapshot at
// <root>/<id>/{fs,work} named by a number (keys are arbitrary strings and change on commit),
// crash-safe creation and removal, and the startup sweep. Subclasses say how a directory is
// filled and mounted.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type {
  ApplyTarget,
  DriverName,
  GraphDriverData,
  SnapshotInfo,
  SnapshotKind,
  Snapshotter,
  SnapshotUsage,
} from './snapshotter.js';
import { EXTRACT_KEY_PREFIX } from './snapshotter.js';
import type { DiffSource } from '../archive/types.js';
import type { Mount } from '../mount/types.js';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import { SnapshotStore, type SnapshotRow } from './store.js';
import { directoryUsage } from './usage.js';
import { mountsUnder } from '../mount/kernel.js';
import { removeTreeNoCross } from '../mount/scratch.js';
import { Conflict, InvalidParameter, Unavailable } from '../errors.js';
import { RecentlyFreed, spreadNewDirectories } from './spread.js';

/** Docker keeps driver directories 0710 and owned by real root (CVE-2021-21284). */
export const DIR_MODE = 0o710;
/** Snapshot directories made again at most, to start outside a recently emptied block group. */
const MAX_MOVES = 8;

const exists = (p: string): Promise<boolean> =>
  lstat(p).then(
    () => true,
    () => false,
  );

export interface Layout {
  dir: string;
  fs: string;
  work: string;
}

export abstract class LocalSnapshotter implements Snapshotter {
  abstract readonly driver: DriverName;
  protected readonly store: SnapshotStore;
  private nextId = 0;
  /** On ext: where this store removed snapshots lately, which a new one should not start in. */
  private freed?: RecentlyFreed;

  constructor(
    protected readonly root: string,
    db: MetaDb,
    protected readonly log: Logger,
    driver: DriverName,
  ) {
    this.store = new SnapshotStore(db, driver);
  }

  abstract status(): Promise<[string, string][]>;
  /** Fills the new, empty directory `l.dir` for a snapshot of `kind` on `parents` (nearest first). */
  protected abstract populate(l: Layout, kind: Exclude<SnapshotKind, 'committed'>, parents: Layout[]): Promise<void>;
  protected abstract mountsOf(row: SnapshotRow, l: Layout, parents: Layout[]): Mount[];
  protected abstract applyTargetOf(l: Layout): ApplyTarget;
  protected abstract diffSourceOf(row: SnapshotRow, l: Layout, parents: Layout[]): DiffSource;
  protected abstract graphDriverDataOf(
    row: SnapshotRow,
    l: Layout,
    parents: Layout[],
    mergedDir?: string,
  ): GraphDriverData;

  /** A snapshot's own content, measured from its files; vfs overrides it, its directories being full copies. */
  protected measure(_row: SnapshotRow, l: Layout, _parents: Layout[], signal?: AbortSignal): Promise<SnapshotUsage> {
    return directoryUsage(l.fs, signal);
  }

  protected layout(id: number): Layout {
    const dir = path.join(this.root, String(id));
    return { dir, fs: path.join(dir, 'fs'), work: path.join(dir, 'work') };
  }

  private parentLayouts(row: SnapshotRow): Layout[] {
    return this.store.parents(row).map((p) => this.layout(p.id));
  }

  async init(): Promise<this> {
    await mkdir(this.root, { recursive: true, mode: DIR_MODE });
    if (spreadNewDirectories(this.root, this.log)) this.freed = new RecentlyFreed();
    const onDisk = (await readdir(this.root)).filter((n) => /^\d+$/.test(n)).map(Number);
    this.nextId = Math.max(this.store.maxId(), ...onDisk, 0) + 1;
    return this;
  }

  /**
   * A new snapshot directory under a number nobody used. It is made under a random name and then
   * renamed: ext4 starts a top directory's search for a block group at a hash of its name, so a
   * number used again (a new data-root, numbering restarted after a prune) would land exactly
   * where its namesake's files were just freed. One that lands in a block group this store
   * emptied lately is made again (a few tries, then it is kept).
   */
  private async allocate(): Promise<number> {
    let fresh: string;
    for (let moves = 0; ; moves++) {
      fresh = path.join(this.root, `new-${randomBytes(8).toString('hex')}`);
      await mkdir(fresh, { mode: DIR_MODE });
      if (!this.freed || moves >= MAX_MOVES || !this.freed.isRecent((await stat(fresh)).ino)) break;
      await rmdir(fresh);
    }
    try {
      for (;;) {
        const id = this.nextId++;
        // A leftover of that number is skipped; rename(2) would replace it when empty.
        if (await exists(this.layout(id).dir)) continue;
        await rename(fresh, this.layout(id).dir);
        return id;
      }
    } catch (err) {
      await rmdir(fresh).catch(() => undefined);
      throw err;
    }
  }

  private async create(
    kind: 'active' | 'view',
    key: string,
    parent?: string,
    labels?: Record<string, string>,
  ): Promise<Mount[]> {
    this.store.assertFree(key);
    const parentRow = this.store.parentFor(parent);
    const parents = parentRow ? [parentRow, ...this.store.parents(parentRow)].map((p) => this.layout(p.id)) : [];
    // Directory first, row second: a crash in between leaves a directory no row owns, which
    // cleanup() removes; a row never points at a half-made directory.
    const id = await this.allocate();
    const l = this.layout(id);
    try {
      await this.populate(l, kind, parents);
      const row = this.store.insert({ id, key, kind, parentId: parentRow?.id ?? null, labels: labels ?? {} });
      return this.mountsOf(row, l, parents);
    } catch (err) {
      await this.destroyDir(l.dir);
      throw err;
    }
  }

  prepare(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]> {
    return this.create('active', key, parent, labels);
  }

  view(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]> {
    return this.create('view', key, parent, labels);
  }

  abstract readonly appliesApart: boolean;

  async commit(
    name: string,
    key: string,
    labels?: Record<string, string>,
    parent?: string,
    usage?: SnapshotUsage,
  ): Promise<void> {
    if (parent !== undefined && !this.appliesApart)
      throw new InvalidParameter(`${this.driver} cannot place snapshot ${key} on a parent at commit: invalid argument`);
    this.store.commit(name, key, labels, parent, usage);
  }

  async mounts(key: string): Promise<Mount[]> {
    const row = this.store.get(key);
    if (row.kind === 'committed')
      throw new InvalidParameter(`snapshot ${key} is not active or view: failed precondition`);
    return this.mountsOf(row, this.layout(row.id), this.parentLayouts(row));
  }

  async remove(key: string): Promise<void> {
    const row = this.store.get(key);
    if (this.store.hasChildren(row.id))
      throw new Conflict(`cannot remove snapshot ${key} with child: failed precondition`);
    const l = this.layout(row.id);
    await this.assertNothingMountedIn(l.dir, key);
    // Row first, directory second: after a crash the directory is an orphan that cleanup()
    // sweeps, never a row whose files are half gone.
    this.store.delete(key);
    const ino =
      this.freed &&
      (await stat(l.dir).then(
        (st) => st.ino,
        () => undefined,
      ));
    if (ino) this.freed!.note(ino);
    await this.destroyDir(l.dir);
  }

  /** Deletes a snapshot directory nothing is mounted in (btrfs deletes its subvolume first). */
  protected async destroyDir(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  /** Deletes a directory no row owns without ever crossing into a mount; the paths it had to keep. */
  protected async removeOrphan(dir: string): Promise<string[]> {
    return removeTreeNoCross(dir);
  }

  async limitSize(_key: string, _bytes: number): Promise<void> {
    throw new Unavailable(`the ${this.driver} storage driver keeps no size limit per snapshot`);
  }

  /** rm -rf through a mount point would delete the mounted filesystem's files. */
  private async assertNothingMountedIn(dir: string, what: string): Promise<void> {
    const busy = await mountsUnder(dir);
    if (busy.length > 0) throw new Conflict(`snapshot ${what} is in use: ${busy[0].mountPoint} is a mount point`);
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return this.store.info(this.store.get(key));
  }

  async usage(key: string, signal?: AbortSignal): Promise<SnapshotUsage> {
    const row = this.store.get(key);
    if (row.usage) return row.usage;
    const u = await this.measure(row, this.layout(row.id), this.parentLayouts(row), signal);
    if (row.kind === 'committed') this.store.keepUsage(row.id, u);
    return u;
  }

  async walk(fn: (info: SnapshotInfo) => void | Promise<void>): Promise<void> {
    for (const row of this.store.all()) await fn(this.store.info(row));
  }

  async applyTarget(key: string): Promise<ApplyTarget> {
    const row = this.store.get(key);
    if (row.kind !== 'active')
      throw new InvalidParameter(`snapshot ${key} is not an active snapshot: failed precondition`);
    return this.applyTargetOf(this.layout(row.id));
  }

  async diffSource(key: string): Promise<DiffSource> {
    const row = this.store.get(key);
    return this.diffSourceOf(row, this.layout(row.id), this.parentLayouts(row));
  }

  async graphDriverData(key: string, mergedDir?: string): Promise<GraphDriverData> {
    const row = this.store.get(key);
    return this.graphDriverDataOf(row, this.layout(row.id), this.parentLayouts(row), mergedDir);
  }

  async cleanup(): Promise<void> {
    for (const row of this.store.all()) {
      if (row.kind !== 'active' || !row.key.startsWith(EXTRACT_KEY_PREFIX)) continue;
      this.log.info(`snapshot: removing interrupted extraction ${row.key}`);
      await this.remove(row.key).catch((err) =>
        this.log.warn(`snapshot: cannot remove ${row.key}: ${(err as Error).message}`),
      );
    }
    const owned = new Set(this.store.all().map((r) => String(r.id)));
    for (const name of await readdir(this.root)) {
      if (owned.has(name)) continue;
      const dir = path.join(this.root, name);
      try {
        await this.assertNothingMountedIn(dir, name);
        this.log.info(`snapshot: removing ${dir}, which no snapshot owns`);
        // Never through a mount made after the look above.
        const kept = await this.removeOrphan(dir);
        if (kept.length > 0) throw new Conflict(`${kept[0]} is a mount point`);
      } catch (err) {
        this.log.warn(`snapshot: cannot remove ${dir}: ${(err as Error).message}`);
      }
    }
    const present = new Set(await readdir(this.root));
    for (const id of owned) if (!present.has(id)) this.log.warn(`snapshot: directory of snapshot ${id} is missing`);
  }
}
