// Picks and builds the storage driver.
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { DriverName, Snapshotter } from './snapshotter.js';
import { InvalidParameter } from '../errors.js';
import { Overlay2Snapshotter } from './overlay2.js';
import { VfsSnapshotter } from './vfs.js';
import { BtrfsSnapshotter } from './btrfs.js';
import { FuseOverlaySnapshotter } from './fuse-overlayfs.js';

export interface SnapshotterDeps {
  /** <data-root>/snapshots/<driver> */
  root: string;
  db: MetaDb;
  log: Logger;
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
export { chooseDriver } from './choose.js';
