// Project quotas, as Docker's quota package uses them for overlay2's `--storage-opt size` and
// the local volume driver's `size`: the directory gets its own project ID (inherited by
// everything created below it) and a hard block limit. Two filesystems can do this: xfs
// mounted with project quotas (pquota/prjquota), and ext4 made with `-O quota,project` and
// mounted with prjquota (both need the kernel's quota support: CONFIG_XFS_QUOTA, and for ext4
// CONFIG_QUOTA with CONFIG_QFMT_V2). Callers refuse the option elsewhere with Docker's error.
//
// The limits are set with xfs_quota (xfsprogs) rather than the quotactl syscall: one external
// command per container or volume create, whose error text says what went wrong. The same tool
// serves ext4 in its foreign-filesystem mode (-f), where `project` sets the ID with
// FS_IOC_FSSETXATTR and the inherit flag, and `limit` is the generic quotactl.
//
// A limit goes with its directory: removal sets it back to 0, for the project ID read from
// the directory (not recomputed from a path it may no longer have). IDs come from the
// data-root's table (project-ids.ts), so no two directories share one.
//
// xfs_quota splits a -c command on blanks and knows no quoting, so a directory's path never
// goes into one (a path with a space named another directory, and xfs_quota still exited 0):
// the directory is opened here, without following a final symlink, and handed to xfs_quota as
// its fd 3, which the command names as /proc/self/fd/3/.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { SystemError } from '../errors.js';
import { fsXattrOf, getFsXattr } from '../native/fsxattr.js';
import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_RDONLY, openat } from '../native/syscalls.js';
import type { ProjectIds } from './project-ids.js';

export type QuotaFilesystem = 'xfs' | 'ext4';

/** Each filesystem's statfs magic, the mount options that enforce project quotas, and whether xfs_quota treats it as foreign. */
const FILESYSTEMS: Record<QuotaFilesystem, { magic: number; enforced: RegExp; foreign: boolean }> = {
  xfs: { magic: 0x58465342, enforced: /(^|,)(prjquota|pquota|pqnoenforce)(,|$)/, foreign: false },
  ext4: { magic: 0xef53, enforced: /(^|,)prjquota(,|$)/, foreign: true },
};

interface QuotaMount {
  fs: QuotaFilesystem;
  mountPoint: string;
  superOptions: string;
}

/** The project-quota filesystem `dir` is on and its mount, or undefined on any other filesystem. */
function quotaMountOf(dir: string): QuotaMount | undefined {
  try {
    const type = fs.statfsSync(dir).type >>> 0;
    const name = (Object.keys(FILESYSTEMS) as QuotaFilesystem[]).find((k) => FILESYSTEMS[k].magic === type);
    if (!name) return undefined;
    const m = mountOf(fs.realpathSync(dir));
    return m && { fs: name, ...m };
  } catch {
    return undefined;
  }
}

/** The mount point of the xfs or ext4 filesystem `dir` is on, or undefined on any other filesystem. */
export function quotaMountPoint(dir: string): string | undefined {
  return quotaMountOf(dir)?.mountPoint;
}

/** Whether `dir` is on xfs or ext4 mounted with project quotas enforced. */
export function quotaSupported(dir: string): boolean {
  const m = quotaMountOf(dir);
  return m !== undefined && FILESYSTEMS[m.fs].enforced.test(m.superOptions);
}

export function mountOf(p: string): { mountPoint: string; superOptions: string } | undefined {
  let best: { mountPoint: string; superOptions: string } | undefined;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const under = mp === '/' || p === mp || p.startsWith(mp + '/');
    if (under && (!best || mp.length >= best.mountPoint.length))
      best = { mountPoint: mp, superOptions: f[dash + 3] ?? '' };
  }
  return best;
}

/** xfs_quota's arguments for one command on the filesystem mounted at `mountPoint`. */
function xfsQuotaArgs(fsName: QuotaFilesystem, mountPoint: string, command: string): string[] {
  return ['-x', ...(FILESYSTEMS[fsName].foreign ? ['-f'] : []), '-c', command, mountPoint];
}

/** How xfs_quota's command names the directory handed to it as fd 3. */
export const DIR_FD_PATH = '/proc/self/fd/3/.';

/** The xfs_quota runs that give the directory open as fd 3 project `id` with a hard block limit of `bytes`. */
export function applyCommands(fsName: QuotaFilesystem, mountPoint: string, id: number, bytes: number): string[][] {
  return [
    xfsQuotaArgs(fsName, mountPoint, `project -s -p ${DIR_FD_PATH} ${id}`),
    xfsQuotaArgs(fsName, mountPoint, `limit -p bhard=${bytes} ${id}`),
  ];
}

/** The xfs_quota run that lifts project `id`'s limit (0 is no limit). */
export function releaseCommands(fsName: QuotaFilesystem, mountPoint: string, id: number): string[][] {
  return [xfsQuotaArgs(fsName, mountPoint, `limit -p bhard=0 ${id}`)];
}

/** Gives `dir` a project of its own, taken from `ids`, and a hard block limit of `bytes`. */
export async function applyProjectQuota(dir: string, bytes: number, ids: ProjectIds): Promise<number> {
  const m = quotaMountOf(dir);
  if (!m) throw new SystemError(`set quota: ${dir} is on neither xfs nor ext4`);
  const fd = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  const id = ids.allocate(dir, m.mountPoint);
  try {
    const [project, limit] = applyCommands(m.fs, m.mountPoint, id, bytes);
    await xfsQuota(project!, fd);
    if (fsXattrOf(fd, dir).projectId !== id) throw new SystemError(`set quota: ${dir} did not take project ${id}`);
    await xfsQuota(limit!);
    return id;
  } catch (err) {
    // An ID no directory carries goes back; one the directory took stays taken until the
    // directory goes (its removal, or the startup sweep once it is gone, gives it back).
    if (fsXattrOf(fd, dir).projectId !== id) ids.release(id);
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Lifts the limit of the project `dir` was given, before `dir` is deleted, and gives its ID
 * back. A directory whose project ID is 0 or its parent's has no project of its own (it
 * inherited one, which is not ours to lift). Returns the project ID whose limit was lifted,
 * or 0 when there was none.
 */
export async function releaseProjectQuota(dir: string, ids: ProjectIds): Promise<number> {
  const m = quotaMountOf(dir);
  if (!m) return 0;
  const id = getFsXattr(dir).projectId;
  if (id === 0 || id === getFsXattr(path.dirname(dir)).projectId) return 0;
  await liftProjectLimit(m.mountPoint, id);
  ids.release(id);
  return id;
}

/** Sets project `id`'s limit on the filesystem mounted at `mountPoint` back to none. */
export async function liftProjectLimit(mountPoint: string, id: number): Promise<void> {
  const m = quotaMountOf(mountPoint);
  if (!m) throw new SystemError(`lift quota: ${mountPoint} is on neither xfs nor ext4`);
  for (const args of releaseCommands(m.fs, m.mountPoint, id)) await xfsQuota(args);
}

/** Runs xfs_quota; `dirFd` becomes its fd 3. */
function xfsQuota(args: string[], dirFd?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('xfs_quota', args, {
      stdio: ['ignore', 'ignore', 'pipe', ...(dirFd === undefined ? [] : [dirFd])],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (err) => reject(new SystemError(`set quota: ${err.message}`, { cause: err })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new SystemError(`set quota: ${stderr.trim() || `xfs_quota exited with ${code}`}`));
    });
  });
}
