// The local driver's `size` option and where a volume's _data lives. On btrfs every volume's
// _data is a subvolume of its own, so `size` is a qgroup limit on it and removal deletes the
// subvolume (and its limit) in one call; elsewhere `size` is an xfs project quota on _data (see
// system/project-quota.ts for how and where that is possible).
import fs from 'node:fs';
import path from 'node:path';
import { SystemError } from '../errors.js';
import * as btrfs from '../native/btrfs.js';
import { applyProjectQuota, quotaSupported as xfsQuotaSupported } from '../system/project-quota.js';

/** Whether volumes under `root` can take a size limit: btrfs (qgroups) or xfs with pquota. */
export function quotaSupported(root: string): boolean {
  return btrfs.isBtrfs(root) || xfsQuotaSupported(root);
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

/** Deletes `<dir>/_data` if it is a subvolume (the rest goes with a plain recursive removal). */
export function releaseDataDir(dir: string): void {
  btrfs.destroySubvolume(dir, '_data');
}

/** Limits what `<dir>/_data` may hold to `bytes`: writes past it fail with EDQUOT. */
export async function applyQuota(dataDir: string, bytes: number): Promise<void> {
  const parent = path.dirname(dataDir);
  const isSubvolume = btrfs.withDirFd(parent, (fd) => btrfs.isSubvolume(fd, path.basename(dataDir)));
  if (!isSubvolume) return applyProjectQuota(dataDir, bytes);
  try {
    btrfs.withDirFd(parent, (fd) => btrfs.quotaEnable(fd));
    btrfs.withDirFd(dataDir, (fd) => btrfs.qgroupLimit(fd, bytes));
  } catch (err) {
    throw new SystemError(`set quota: ${(err as Error).message}`, { cause: err });
  }
}
