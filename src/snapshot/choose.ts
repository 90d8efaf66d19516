// Which storage driver a data-root gets when none is asked for. Kept apart from the drivers:
// the daemon probes before it has loaded them, so that the probe's mounts and the loading of
// the engine's code overlap.
import path from 'node:path';
import { createLogger, type Logger } from '../util/log.js';
import type { DriverName } from './snapshotter.js';
import { isBtrfs } from '../native/btrfs.js';
import { probeFuseOverlay, probeOverlay } from './probe.js';

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
