// Picks and builds the storage driver.
import path from 'node:path';
import type { MetaDb } from '../meta/db.js';
import { createLogger, type Logger } from '../util/log.js';
import type { Snapshotter } from './snapshotter.js';
import { InvalidParameter } from '../errors.js';
import { Overlay2Snapshotter } from './overlay2.js';
import { VfsSnapshotter } from './vfs.js';
import { probeFuseOverlay, probeOverlay } from './probe.js';
import { FuseOverlaySnapshotter } from './fuse-overlayfs.js';
import type { DriverName } from './snapshotter.js';

export interface SnapshotterDeps {
  /** <data-root>/snapshots/<driver> */
  root: string;
  db: MetaDb;
  log: Logger;
}

/**
 * overlay2 where the kernel can mount overlayfs on the data-root's filesystem; else
 * fuse-overlayfs where that program can (the same layers, no copies); else vfs.
 */
export async function chooseDriver(dataRoot: string, log: Logger = createLogger('info')): Promise<DriverName> {
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
    default:
      throw new InvalidParameter(`error initializing graphdriver: driver not supported: ${String(driver)}`);
  }
}

export type { Snapshotter } from './snapshotter.js';
export { EXTRACT_KEY_PREFIX } from './snapshotter.js';
export type { DriverName } from './snapshotter.js';
