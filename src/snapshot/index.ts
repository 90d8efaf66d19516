// Picks and builds the storage driver.
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Snapshotter } from './snapshotter.js';
import { NotImplemented } from '../errors.js';

export interface SnapshotterDeps {
  /** <data-root>/snapshots/<driver> */
  root: string;
  db: MetaDb;
  log: Logger;
}

/** overlay2 where the kernel can mount overlayfs on the data-root's filesystem, else vfs (as Docker chooses). */
export async function chooseDriver(_dataRoot: string): Promise<'overlay2' | 'vfs'> {
  return 'vfs';
}

export async function createSnapshotter(driver: 'overlay2' | 'vfs', _deps: SnapshotterDeps): Promise<Snapshotter> {
  throw new NotImplemented(`storage driver ${driver} is not built yet`);
}
