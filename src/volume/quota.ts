// The local driver's `size` option and where a volume's _data lives. On btrfs every volume's
// _data is a subvolume of its own, so `size` is a qgroup limit on it and removal deletes the
// subvolume (and its limit) in one call; elsewhere `size` is a project quota on _data (xfs or
// ext4; see system/project-quota.ts for how and where that is possible), lifted on removal.
import fs from 'node:fs';
import path from 'node:path';
import { SystemError } from '../errors.js';
import * as btrfs from '../native/btrfs.js';
import {
  applyProjectQuota,
  quotaSupported as projectQuotaSupported,
  releaseProjectQuota,
} from '../system/project-quota.js';
import type { ProjectIds } from '../system/project-ids.js';

/** Whether volumes under `root` can take a size limit: btrfs (qgroups), or xfs or ext4 with project quotas. */
export function quotaSupported(root: string): boolean {
  return btrfs.isBtrfs(root) || projectQuotaSupported(root);
}

/** Makes `<dir>/_data`: a subvolume on btrfs, a directory elsewhere; 0755 either way. */
export function makeDataDir(dir: string): void {
  const data = path.join(dir, '_data');
  if (fs.existsSync(data)) return;
  if (btrfs.isBtrfs(dir)) {
    btrfs.withDirFd(dir, (fd) => btrfs.subvolumeCreate(fd, '_data'));
    fs.chmodSync(data, 0o755);
  } else fs.mkdirSync(data, { mode: 0o755 });
}

/** Deletes `<dir>/_data` if it is a subvolume, its qgroup limit with it (the rest goes with a plain recursive removal). */
export function releaseDataDir(dir: string): void {
  btrfs.destroySubvolume(dir, '_data');
}

/**
 * Lifts the project quota limit `<dir>/_data` was given (off btrfs), before it is deleted: a
 * limit left behind would outlive the volume, for a project ID a later directory may get.
 */
export async function releaseQuota(dir: string, ids: ProjectIds): Promise<void> {
  const data = path.join(dir, '_data');
  if (fs.existsSync(data) && !btrfs.isBtrfs(data)) await releaseProjectQuota(data, ids);
}

/** Limits what `<dir>/_data` may hold to `bytes`: writes past it fail with EDQUOT. */
export async function applyQuota(dataDir: string, bytes: number, ids: ProjectIds): Promise<void> {
  const parent = path.dirname(dataDir);
  const isSubvolume = btrfs.withDirFd(parent, (fd) => btrfs.isSubvolume(fd, path.basename(dataDir)));
  if (!isSubvolume) {
    await applyProjectQuota(dataDir, bytes, ids);
    return;
  }
  try {
    btrfs.withDirFd(parent, (fd) => btrfs.quotaEnable(fd));
    btrfs.withDirFd(dataDir, (fd) => btrfs.qgroupLimit(fd, bytes));
  } catch (err) {
    throw new SystemError(`set quota: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Makes `dstData` (a new volume's empty `_data`) a btrfs snapshot of `srcData` when both are
 * subvolumes on btrfs: one ioctl whatever the volume holds, sharing every extent until either
 * side writes. False, with nothing changed, anywhere else (the caller copies instead). The
 * snapshot is made beside the empty subvolume and renamed over it once made, so a failure (two
 * different btrfs filesystems: EXDEV) leaves the new volume as it was.
 */
export function snapshotDataDir(srcData: string, dstData: string): boolean {
  const name = path.basename(dstData);
  const [srcDir, dstDir] = [path.dirname(srcData), path.dirname(dstData)];
  if (!btrfs.isBtrfs(srcData) || !btrfs.isBtrfs(dstData)) return false;
  if (!btrfs.withDirFd(srcDir, (fd) => btrfs.isSubvolume(fd, path.basename(srcData)))) return false;
  if (!btrfs.withDirFd(dstDir, (fd) => btrfs.isSubvolume(fd, name))) return false;
  if (fs.readdirSync(dstData).length > 0) return false;
  const staged = `${name}.clone`;
  try {
    btrfs.withDirFd(dstDir, (dirFd) => btrfs.withDirFd(srcData, (src) => btrfs.snapshotCreate(src, dirFd, staged)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false;
    throw new SystemError(`clone: snapshot of ${srcData}: ${(err as Error).message}`, { cause: err });
  }
  btrfs.destroySubvolume(dstDir, name);
  fs.renameSync(path.join(dstDir, staged), dstData);
  return true;
}
