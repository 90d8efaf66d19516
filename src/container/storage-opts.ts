// `--storage-opt size=…`: a hard limit on the container's writable layer, the way Docker's
// overlay2 does it, with a project quota on the layer's directory (upper and work dirs; xfs,
// or ext4 mounted with prjquota), or as its btrfs driver does, with a qgroup limit on the
// layer's subvolume (the snapshotter's). The limit goes with the layer: a project quota is
// lifted before the layer is removed, a qgroup with its subvolume.
// Docker checks support first and the option names second, so `foo=1` on ext4 is "Unknown
// option foo" while `size=1G` there is the pquota error.
import path from 'node:path';
import { InvalidParameter, SystemError } from '../errors.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import { parseRamInBytes } from '../volume/local-options.js';
import { applyProjectQuota, quotaSupported, releaseProjectQuota } from '../system/project-quota.js';
import type { ProjectIds } from '../system/project-ids.js';

const UNSUPPORTED = "--storage-opt is supported only for overlay over xfs with 'pquota' mount option";

/** The layer size limit in bytes (0 for none), or Docker's error for options it cannot honour. */
export function layerSizeLimit(
  storageOpt: Record<string, string> | null | undefined,
  driver: string,
  snapshotRoot: string,
): number {
  const opts = storageOpt ?? {};
  if (Object.keys(opts).length === 0) return 0;
  const supported = driver === 'btrfs' || (driver === 'overlay2' && quotaSupported(snapshotRoot));
  if ('size' in opts && !supported) throw new SystemError(UNSUPPORTED);
  let size = 0;
  for (const [key, value] of Object.entries(opts)) {
    if (key.toLowerCase() !== 'size') throw new InvalidParameter(`Unknown option ${key}`);
    size = parseRamInBytes(value);
  }
  return size;
}

/** Puts the limit on the prepared writable layer `key`. */
export async function applyLayerSizeLimit(
  snapshotter: Snapshotter,
  key: string,
  bytes: number,
  ids: ProjectIds,
): Promise<void> {
  if (snapshotter.driver === 'btrfs') return snapshotter.limitSize(key, bytes);
  const upper = (await snapshotter.graphDriverData(key)).Data?.UpperDir;
  if (!upper) throw new SystemError(UNSUPPORTED);
  await applyProjectQuota(path.dirname(upper), bytes, ids);
}

/** Whether a container's `StorageOpt` asks for a size limit (the option name is case-insensitive). */
export function hasLayerSizeLimit(storageOpt: Record<string, string> | null | undefined): boolean {
  return Object.keys(storageOpt ?? {}).some((k) => k.toLowerCase() === 'size');
}

/** Lifts the project quota limit of writable layer `key` before its removal (btrfs' goes with the subvolume). */
export async function releaseLayerSizeLimit(snapshotter: Snapshotter, key: string, ids: ProjectIds): Promise<void> {
  if (snapshotter.driver === 'btrfs') return;
  const upper = (await snapshotter.graphDriverData(key)).Data?.UpperDir;
  if (upper) await releaseProjectQuota(path.dirname(upper), ids);
}
