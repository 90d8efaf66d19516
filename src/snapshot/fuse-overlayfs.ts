// The fuse-overlayfs driver: overlay2's layout (each snapshot's fs/ holds its own changes,
// parents are lowers) mounted by the fuse-overlayfs program instead of the kernel, for
// filesystems on which the kernel refuses overlayfs as the upper layer (overlayfs itself, some
// network filesystems). Such filesystems refuse overlayfs's whiteouts too (0/0 devices, trusted
// xattrs), so layers are applied with the tar's own .wh. files, which fuse-overlayfs reads, as
// Docker's fuse-overlayfs driver does; a diff reads the upper dir, where fuse-overlayfs writes
// whiteouts in whichever of the two forms the filesystem takes, both of which export as .wh.
// entries.
import type { ApplyTarget, GraphDriverData } from './snapshotter.js';
import type { Mount } from '../mount/types.js';
import type { DiffSource } from '../archive/types.js';
import type { SnapshotRow } from './store.js';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Layout } from './local.js';
import { Overlay2Snapshotter } from './overlay2.js';

/** The mount type mount/kernel.ts runs the fuse-overlayfs program for. */
export const FUSE_OVERLAYFS = 'fuse-overlayfs';

export class FuseOverlaySnapshotter extends Overlay2Snapshotter {
  constructor(root: string, db: MetaDb, log: Logger) {
    super(root, db, log, 'fuse-overlayfs');
  }

  /** Docker's fuse-overlayfs driver reports nothing here. */
  override async status(): Promise<[string, string][]> {
    return [];
  }

  protected override mountsOf(row: SnapshotRow, l: Layout, parents: Layout[]): Mount[] {
    return super
      .mountsOf(row, l, parents)
      .map((m) =>
        m.type === 'overlay'
          ? { type: FUSE_OVERLAYFS, source: FUSE_OVERLAYFS, options: m.options.filter((o) => o !== 'index=off') }
          : m,
      );
  }

  protected override applyTargetOf(l: Layout): ApplyTarget {
    return { dir: l.fs, whiteouts: 'aufs' };
  }

  protected override diffSourceOf(row: SnapshotRow, l: Layout, parents: Layout[]): DiffSource {
    return { kind: 'overlay', upper: l.fs, lowers: parents.map((p) => p.fs), whiteoutFiles: true };
  }

  protected override graphDriverDataOf(
    row: SnapshotRow,
    l: Layout,
    parents: Layout[],
    mergedDir?: string,
  ): GraphDriverData {
    return { ...super.graphDriverDataOf(row, l, parents, mergedDir), Name: 'fuse-overlayfs' };
  }
}
