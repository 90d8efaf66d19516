// Picks and builds the storage driver.
import path from 'node:path';
import type { MetaDb } from '../meta/db.js';
import { createLogger, type Logger } from '../util/log.js';
import type { DriverName, Snapshotter } from './snapshotter.js';
import { InvalidParameter } from '../errors.js';
import { Overlay2Snapshotter } from './overlay2.js';
import { VfsSnapshotter } from './vfs.js';
import { BtrfsSnapshotter } from './btrfs.js';
import { isBtrfs } from '../native/btrfs.js';
import { probeFuseOverlay, probeOverlay } from './probe.js';
import { FuseOverlaySnapshotter } from './fuse-overlayfs.js';

export interface SnapshotterDeps {
  /** <data-root>/snapshots/<driver> */
  root: string;
  db: MetaDb;
  log: Logger;
}

/**
 * btrfs on a btrfs data-root; else overlay2 where the kernel can mount overlayfs on the
 * data-root's filesystem; else fuse-overlayfs where that program can (the same layers, no
 * copies); else vfs (Docker's order: btrfs comes before overlay2 and is chosen when the backing
 * filesystem is btrfs).
 */
export async function chooseDriver(dataRoot: string, log: Logger = createLogger('info')): Promise<DriverName> {
  if (isBtrfs(dataRoot)) return 'btrfs';
  const probe = await probeOverlay(path.join(dataRoot, 'snapshots'));
  if (probe.ok) return 'overlay2';
  log.warn(probe.reason ?? 'overlay2 is not supported');
  const fuse = await probeFuseOverlay(path.join(dataRoot, 'snapshots'));
  if (fuse.ok) {
    log.info('storage driver: falling back to fuse-overlayfs');
    return 'fuse-overlayfs';
  }
  log.warn(fuse.reason ?? 'fuse-overlayfs is not supported');
  log.info('storage driver: falling back to vfs');
  return 'vfs';
}

export async function createSnapshotter(driver: DriverName, deps: SnapshotterDeps): Promise<Snapshotter> {
  switch (driver) {
    case 'overlay2':
      return new Overlay2Snapshotter(deps.root, deps.db, deps.log).init();
    case 'fuse-overlayfs':
      return new FuseOverlaySnapshotter(deps.root, deps.db, deps.log).init();
    case 'vfs':
      return new VfsSnapshotter(deps.root, deps.db, deps.log).init();
    case 'btrfs':
      return new BtrfsSnapshotter(deps.root, deps.db, deps.log).init();
    default:
      throw new InvalidParameter(`error initializing graphdriver: driver not supported: ${String(driver)}`);
  }
}

export type { DriverName, Snapshotter } from './snapshotter.js';
