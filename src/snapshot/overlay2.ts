// The overlay2 driver: every snapshot's fs/ holds only its own changes; an active snapshot on
// parents is mounted as overlayfs with the parents' fs/ dirs as lowers (nearest first), its own
// fs/ as upper and work/ as the overlay work dir. A commit is a metadata rename: the files stay.
import { chmod, mkdir, readFile } from 'node:fs/promises';
import type { ApplyTarget, GraphDriverData, SnapshotKind } from './snapshotter.js';
import type { DiffSource } from '../archive/types.js';
import type { Mount } from '../mount/types.js';
import type { SnapshotRow } from './store.js';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import { LocalSnapshotter, type Layout } from './local.js';
import { backingFsName, supportsDType } from './fstype.js';
import { InvalidParameter } from '../errors.js';

/** The kernel module's parameter, 'Y' or 'N'; absent on kernels without it. */
async function overlayParam(name: string): Promise<boolean> {
  try {
    return (await readFile(`/sys/module/overlay/parameters/${name}`, 'utf8')).trim() === 'Y';
  } catch {
    return false;
  }
}

export class Overlay2Snapshotter extends LocalSnapshotter {
  readonly driver: 'overlay2' | 'fuse-overlayfs';
  /** A snapshot's fs/ holds only its own changes, whatever its parent. */
  readonly appliesApart = true;

  /** `name` is fuse-overlayfs for the subclass that mounts the same layout through FUSE. */
  constructor(root: string, db: MetaDb, log: Logger, name: 'overlay2' | 'fuse-overlayfs' = 'overlay2') {
    super(root, db, log, name);
    this.driver = name;
  }
  private cachedStatus?: [string, string][];

  override async init(): Promise<this> {
    // Overlay options are split on ',' (by mount) and lowerdir on ':' (by the kernel).
    if (/[,:]/.test(this.root))
      throw new InvalidParameter(`overlay2: the data-root path ${this.root} must not contain ',' or ':'`);
    return super.init();
  }

  /**
   * Docker's DriverStatus for overlay2. Native diff (reading the upper dir directly) is wrong
   * when redirect_dir or metacopy is on: a renamed directory or a metadata-only copy-up would
   * look like a new file without its data, so Docker falls back to the naive diff then.
   */
  async status(): Promise<[string, string][]> {
    if (this.cachedStatus) return this.cachedStatus;
    const [fsName, dType, metacopy, redirectDir] = await Promise.all([
      backingFsName(this.root),
      supportsDType(this.root),
      overlayParam('metacopy'),
      overlayParam('redirect_dir'),
    ]);
    this.cachedStatus = [
      ['Backing Filesystem', fsName],
      ['Supports d_type', String(dType)],
      ['Using metacopy', String(metacopy)],
      ['Native Overlay Diff', String(!metacopy && !redirectDir)],
      ['userxattr', 'false'],
    ];
    return this.cachedStatus;
  }

  protected async populate(l: Layout, kind: Exclude<SnapshotKind, 'committed'>, parents: Layout[]): Promise<void> {
    await mkdir(l.fs);
    await chmod(l.fs, 0o755); // whatever the umask: an image's root directory is 0755
    if (kind === 'active' && parents.length > 0) await mkdir(l.work, { mode: 0o700 });
  }

  /** After containerd's overlay mounts(): no overlay where a bind mount does. */
  protected mountsOf(row: SnapshotRow, l: Layout, parents: Layout[]): Mount[] {
    const active = row.kind === 'active';
    if (parents.length === 0) return [{ type: 'bind', source: l.fs, options: [active ? 'rw' : 'ro', 'rbind'] }];
    if (!active && parents.length === 1) return [{ type: 'bind', source: parents[0].fs, options: ['ro', 'rbind'] }];
    const options = ['index=off', `lowerdir=${parents.map((p) => p.fs).join(':')}`];
    if (active) options.push(`upperdir=${l.fs}`, `workdir=${l.work}`);
    return [{ type: 'overlay', source: 'overlay', options }];
  }

  protected applyTargetOf(l: Layout): ApplyTarget {
    return { dir: l.fs, whiteouts: 'overlay' };
  }

  protected diffSourceOf(_row: SnapshotRow, l: Layout, parents: Layout[]): DiffSource {
    return { kind: 'overlay', upper: l.fs, lowers: parents.map((p) => p.fs) };
  }

  /**
   * Docker 20.10 shows the same four keys for images and containers (LowerDir only when there
   * are parents), including MergedDir and WorkDir that do not exist for image layers.
   */
  protected graphDriverDataOf(_row: SnapshotRow, l: Layout, parents: Layout[], mergedDir?: string): GraphDriverData {
    const data: Record<string, string> = {};
    if (parents.length > 0) data.LowerDir = parents.map((p) => p.fs).join(':');
    data.MergedDir = mergedDir ?? `${l.dir}/merged`;
    data.UpperDir = l.fs;
    data.WorkDir = l.work;
    return { Name: 'overlay2', Data: data };
  }
}
