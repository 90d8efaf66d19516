// The vfs driver: every active snapshot's fs/ is a full copy of its parent's, so it works on
// any filesystem and needs no overlayfs; copies are reflinks where the filesystem offers them
// (btrfs, xfs with reflink=1), real copies elsewhere. A view needs no copy: the parent is
// committed, hence immutable, and is bind-mounted read-only. The btrfs driver (btrfs.ts) is this
// driver with btrfs snapshots in place of the copies.
import { execFile } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import type { ApplyTarget, GraphDriverData, SnapshotKind, SnapshotUsage } from './snapshotter.js';
import { naiveChangesUsage } from '../archive/lazy.js';
import type { DiffSource } from '../archive/types.js';
import type { Mount } from '../mount/types.js';
import type { SnapshotRow } from './store.js';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import { LocalSnapshotter, type Layout } from './local.js';
import { SystemError } from '../errors.js';

/** cp -a keeps owners, modes, times, xattrs, hard links, devices and sockets; --reflink=auto shares blocks when it can. */
function copyTree(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'cp',
      ['-a', '--reflink=auto', '--', from, to],
      { env: { ...process.env, LC_ALL: 'C' } },
      (err, _o, stderr) =>
        err ? reject(new SystemError(`copy ${from} to ${to}: ${String(stderr).trim() || err.message}`)) : resolve(),
    );
  });
}

export class VfsSnapshotter extends LocalSnapshotter {
  readonly driver: 'vfs' | 'btrfs';
  /** A snapshot's fs/ starts as a copy (or, on btrfs, a snapshot) of its parent's. */
  readonly appliesApart = false;

  constructor(root: string, db: MetaDb, log: Logger, driver: 'vfs' | 'btrfs' = 'vfs') {
    super(root, db, log, driver);
    this.driver = driver;
  }

  /** Docker 20.10's vfs reports nothing here. */
  async status(): Promise<[string, string][]> {
    return [];
  }

  protected async populate(l: Layout, kind: Exclude<SnapshotKind, 'committed'>, parents: Layout[]): Promise<void> {
    if (kind === 'active' && parents.length > 0) await copyTree(parents[0].fs, l.fs);
    else {
      await mkdir(l.fs);
      await chmod(l.fs, 0o755); // whatever the umask: an image's root directory is 0755
    }
  }

  /**
   * A snapshot's own content is what it changed relative to its parent's copy, as Docker's vfs
   * (a naive diff driver) measures a container's SizeRw and a layer's size: counting the whole
   * copy would make a fresh container weigh as much as its image.
   */
  protected override async measure(
    row: SnapshotRow,
    l: Layout,
    parents: Layout[],
    signal?: AbortSignal,
  ): Promise<SnapshotUsage> {
    if (parents.length === 0) return super.measure(row, l, parents, signal);
    // The comparison with the parent's copy cannot be called off half way: an abort is seen on
    // either side of it, and its figure is not given for a walk that was called off.
    signal?.throwIfAborted();
    const u = await naiveChangesUsage(l.fs, parents[0].fs);
    signal?.throwIfAborted();
    return u;
  }

  private viewed(row: SnapshotRow, l: Layout, parents: Layout[]): string {
    return row.kind === 'view' && parents.length > 0 ? parents[0].fs : l.fs;
  }

  protected mountsOf(row: SnapshotRow, l: Layout, parents: Layout[]): Mount[] {
    const rw = row.kind === 'active' ? 'rw' : 'ro';
    return [{ type: 'bind', source: this.viewed(row, l, parents), options: [rw, 'rbind'] }];
  }

  protected applyTargetOf(l: Layout): ApplyTarget {
    return { dir: l.fs, whiteouts: 'naive' };
  }

  /** A view has no changes of its own: it is compared with itself. */
  protected diffSourceOf(row: SnapshotRow, l: Layout, parents: Layout[]): DiffSource {
    if (row.kind === 'view') {
      const own = this.viewed(row, l, parents);
      return { kind: 'naive', upper: own, lower: own };
    }
    return parents.length > 0 ? { kind: 'naive', upper: l.fs, lower: parents[0].fs } : { kind: 'naive', upper: l.fs };
  }

  protected graphDriverDataOf(): GraphDriverData {
    return { Name: 'vfs', Data: null };
  }
}
