// The Snapshotter contract, after containerd's core/snapshots: keys name active
// (writable) or view snapshots, names name committed ones; a committed snapshot is
// immutable and may be the parent of many others. Drivers return mounts as data and never
// decide policy (what to keep, what to prune): services do.
import type { Mount } from '../mount/types.js';
import type { DiffSource } from '../archive/types.js';

/**
 * Keys of active snapshots that are being filled from a layer tar start with this prefix
 * (`extract-<random>`): prepare('extract-…', parentChainID), apply the tar into applyTarget(),
 * then commit('sha256:<chainID>', key). An active snapshot whose key still starts with it when
 * the daemon starts was interrupted: cleanup() removes it. Committed names are never affected.
 * Containers use other keys (e.g. `container-<id>`), which survive restarts.
 */
export const EXTRACT_KEY_PREFIX = 'extract-';

export type SnapshotKind = 'view' | 'active' | 'committed';

export interface SnapshotInfo {
  /** The key (active/view) or name (committed). */
  name: string;
  kind: SnapshotKind;
  parent?: string;
  labels: Record<string, string>;
  /** Unix milliseconds. */
  created: number;
}

export interface SnapshotUsage {
  /** Bytes of this snapshot's own content (not its parents'), as Docker's directory.Size counts them: st_size of every non-directory, hard links once. */
  size: number;
  inodes: number;
}

/** Where to write a layer tar into a snapshot, and how whiteouts must be represented there. */
export interface ApplyTarget {
  dir: string;
  /**
   * overlay: 0/0 char devices + trusted.overlay.opaque; naive: delete the whited-out paths;
   * aufs: keep the .wh. entries as empty files (what fuse-overlayfs reads on any filesystem).
   */
  whiteouts: 'overlay' | 'naive' | 'aufs';
}

/** What `docker inspect` shows as GraphDriver. */
export interface GraphDriverData {
  Name: string;
  Data: Record<string, string> | null;
}

/** Docker's names for the storage drivers Strata has. */
export type DriverName = 'overlay2' | 'fuse-overlayfs' | 'vfs' | 'btrfs';

/** What `docker info` and `inspect` show of the driver: its name, status and GraphDriver data. */
export interface DriverInfo {
  /** Docker's name for the driver. */
  readonly driver: DriverName;
  /** The [name, value] pairs `docker info` shows as DriverStatus. */
  status(): Promise<[string, string][]>;
  /** GraphDriver data for inspect (LowerDir/UpperDir/MergedDir/WorkDir on overlay2); mergedDir is where the caller mounts it. */
  graphDriverData(key: string, mergedDir?: string): Promise<GraphDriverData>;
}

/** containerd's snapshotter verbs, plus the layer-apply and diff views the archive room needs. */
export interface Snapshotter extends DriverInfo {
  /** Creates an active (writable) snapshot on `parent` (a committed name) and returns its mounts. Fails with Conflict if the key exists. */
  prepare(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]>;
  /** Creates a read-only view of `parent`. */
  view(key: string, parent?: string, labels?: Record<string, string>): Promise<Mount[]>;
  /**
   * Turns the active snapshot `key` into the committed snapshot `name`; `key` is gone afterwards.
   * `parent` (only where `appliesApart`) places a snapshot prepared without a parent on the
   * committed `parent`: a layer applied before its parent was there. `usage`, where the caller
   * counted it as it filled the snapshot (exactly as a walk would find it), is kept as the
   * committed snapshot's: its files are then never walked to measure it.
   */
  commit(
    name: string,
    key: string,
    labels?: Record<string, string>,
    parent?: string,
    usage?: SnapshotUsage,
  ): Promise<void>;
  /**
   * Whether a layer may be applied before its parent exists (prepared without a parent, then
   * committed onto it): true where a snapshot's directory holds only its own changes (overlay2),
   * false where it starts as a copy of its parent (vfs). Layers of one image then unpack at once.
   */
  readonly appliesApart: boolean;
  /** The mounts for an existing active or view snapshot. */
  mounts(key: string): Promise<Mount[]>;
  /** Removes a snapshot; Conflict (FailedPrecondition) if it has children. */
  remove(key: string): Promise<void>;
  stat(key: string): Promise<SnapshotInfo>;
  /**
   * May walk an active snapshot's files (callers cache the result); a committed one's is measured
   * once and kept. An aborted `signal` ends the walk, which rejects with its reason.
   */
  usage(key: string, signal?: AbortSignal): Promise<SnapshotUsage>;
  walk(fn: (info: SnapshotInfo) => void | Promise<void>): Promise<void>;

  /** Where an active snapshot's own changes live, for applying a layer tar straight into it. */
  applyTarget(key: string): Promise<ApplyTarget>;
  /** What a snapshot changed relative to its parent, for `docker diff`, commit and layer export. */
  diffSource(key: string): Promise<DiffSource>;
  /**
   * Caps what the active snapshot `key` may hold at `bytes` (`--storage-opt size`); writes past
   * it fail with EDQUOT. Unavailable on drivers that keep no per-snapshot quota (overlay2's xfs
   * project quotas are the container room's business).
   */
  limitSize(key: string, bytes: number): Promise<void>;
  /** Removes what no metadata row owns and active `extract-` snapshots (interrupted extractions); run once at startup. */
  cleanup(): Promise<void>;
}
