// The vocabulary of `strata system check`: a fault is one thing where metadata and disk
// disagree, found by one of the checkers in this folder, with the way back if there is a safe one.
import type { MetaDb } from '../../meta/db.js';
import type { Snapshotter } from '../../snapshot/snapshotter.js';
import type { ContainerService } from '../../container/types.js';
import type { ContainerLifecycle } from '../../container/backend.js';
import type { VolumeService } from '../../volume/types.js';
import type { Activity } from '../activity.js';

export type FaultKind =
  | 'stale-mount' // a mount under the data-root or exec-root that no running container needs
  | 'scratch-leftover' // an entry under tmp/ or the exec-root's build/ no operation is using
  | 'ingest-leftover' // a half-written blob under content/ingest
  | 'blob-orphan' // a blob no layer names
  | 'snapshot-dir-orphan' // a snapshot directory no row owns
  | 'snapshot-dir-missing' // a snapshot row whose directory is gone
  | 'snapshot-incomplete' // an active extract- snapshot: a layer extraction that never finished
  | 'layer-snapshot-orphan' // a committed layer snapshot no layer row names
  | 'layer-snapshot-missing' // a layer row whose snapshot is gone
  | 'layer-blob-missing' // a layer row whose tar (named by its diffID) is gone
  | 'layer-corrupt' // full mode: a layer's tar or files no longer match its diffID
  | 'image-layer-missing' // an image whose top layer has no row
  | 'tag-dangling' // a tag naming an image that does not exist
  | 'container-dir-orphan' // a directory under containers/ no container row owns
  | 'container-snapshot-orphan' // a container's writable or init snapshot without its container
  | 'container-dir-missing' // a container row whose directory is gone
  | 'container-snapshot-missing' // a container row whose writable layer is gone
  | 'container-bundle-missing' // a running container without its runtime bundle
  | 'volume-dir-orphan' // a directory under volumes/ no volume row owns
  | 'volume-dir-missing' // a local volume row whose directory is gone
  | 'volume-ref-orphan'; // a volume held by a container that does not exist

export interface Fault {
  kind: FaultKind;
  path: string;
  /** Bytes it holds on disk (0 when it holds none, e.g. a row or a mount). */
  size: number;
  detail: string;
  /** A second look after the scan: false once the fault has gone by itself (an operation in flight finished). */
  still(): boolean | Promise<boolean>;
  /** The safe fix; resolves with what it did. Absent when there is none: `left` says why. */
  repair?: () => Promise<string>;
  left?: string;
}

export interface FaultReport {
  Kind: FaultKind;
  Path: string;
  Size: number;
  Detail: string;
  Repaired: boolean;
  /** What --repair did, or why it left the fault. */
  Action?: string;
}

export interface CheckReport {
  Mode: 'full' | 'quick';
  Repair: boolean;
  /** What was looked at, by kind of object. */
  Checked: Record<string, number>;
  /** Checks not made, and why (e.g. other requests in flight on a live daemon). */
  Skipped: string[];
  Faults: FaultReport[];
  /** Faults still there after the check (and the repair, if asked for). */
  Remaining: number;
}

/** What the check reads of the engine (daemon.ts and api/ pass theirs). */
export interface CheckedEngine {
  config: { dataRoot: string; execRoot: string };
  db: MetaDb;
  activity: Activity;
  snapshotter: Snapshotter;
  /** Repairs remove a container whose layer or mount is beyond saving. */
  containers: Pick<ContainerService, 'list' | 'mountsInUse'> & Pick<ContainerLifecycle, 'remove'>;
  volumes: Pick<VolumeService, 'list' | 'users' | 'release'>;
}

/** What every checker reads. */
export interface CheckEnv {
  engine: CheckedEngine;
  dataRoot: string;
  execRoot: string;
  /** <data-root>/snapshots/<driver> */
  snapshotRoot: string;
  quick: boolean;
  /**
   * No other API request is in flight. Objects that operations make in several steps (scratch,
   * ingests, snapshot directories before their row, layer snapshots before their layer row,
   * volume directories before their row) are judged only then: otherwise they may belong to
   * an operation running right now, and the check says it skipped them.
   */
  quiet: boolean;
  checked: Record<string, number>;
  skipped: string[];
}

export const count = (env: CheckEnv, what: string, n: number) => {
  env.checked[what] = (env.checked[what] ?? 0) + n;
};

/** What repairs remove containers with. */
export const remover = (env: CheckEnv): Pick<ContainerLifecycle, 'remove'> => env.engine.containers;
