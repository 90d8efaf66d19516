// The btrfs ioctls the btrfs storage driver and btrfs-backed volumes need: subvolumes,
// snapshots, their removal, and qgroup quotas. Called straight through koffi rather than the
// btrfs CLI: a container start makes a snapshot, and an ioctl costs microseconds of our own
// time where a process spawn costs milliseconds. Every function is synchronous (a snapshot waits
// for btrfs' transaction commit, tens of milliseconds at most) and throws a SyscallError.
import { closeSync, readdirSync, statfsSync } from 'node:fs';
import koffi from 'koffi';
import {
  AT_FDCWD,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_RDONLY,
  openat,
  openat2,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  RESOLVE_NO_XDEV,
  statx,
  SyscallError,
} from './syscalls.js';

const libc = koffi.load('libc.so.6');
// ioctl(2) is variadic in glibc; koffi passes the argument with its declared type.
const ioctlFn = libc.func('int ioctl(int fd, unsigned long request, ...)');

export const BTRFS_SUPER_MAGIC = 0x9123683e;

const IOC_WRITE = 1;
const IOC_READ = 2;
const BTRFS_IOCTL_MAGIC = 0x94;
/** Linux's _IOC(dir, type, nr, size) on x86_64 and arm64. */
const ioc = (dir: number, nr: number, size: number) =>
  ((dir << 30) | (size << 16) | (BTRFS_IOCTL_MAGIC << 8) | nr) >>> 0;

const VOL_ARGS_SIZE = 4096; // struct btrfs_ioctl_vol_args and _v2 are both one page
const VOL_NAME_MAX = 255;
const BTRFS_IOC_SNAP_DESTROY = ioc(IOC_WRITE, 15, VOL_ARGS_SIZE);
const BTRFS_IOC_INO_LOOKUP = ioc(IOC_READ | IOC_WRITE, 18, 4096);
const BTRFS_IOC_SNAP_CREATE_V2 = ioc(IOC_WRITE, 23, VOL_ARGS_SIZE);
const BTRFS_IOC_SUBVOL_CREATE_V2 = ioc(IOC_WRITE, 24, VOL_ARGS_SIZE);
const BTRFS_IOC_QUOTA_CTL = ioc(IOC_READ | IOC_WRITE, 40, 16);
const BTRFS_IOC_QGROUP_CREATE = ioc(IOC_WRITE, 42, 16);
const BTRFS_IOC_QGROUP_LIMIT = ioc(IOC_READ, 43, 48);

const BTRFS_QUOTA_CTL_ENABLE = 1;
const BTRFS_QGROUP_LIMIT_MAX_RFER = 1;
/** The inode number of every subvolume's root directory. */
export const BTRFS_FIRST_FREE_OBJECTID = 256;

function ioctl(fd: number, request: number, arg: Buffer, what: string): void {
  if ((ioctlFn(fd, request, 'void *', arg) as number) < 0) throw new SyscallError(what, koffi.errno());
}

/** struct btrfs_ioctl_vol_args_v2: fd at 0, flags at 16, name at 56. */
function volArgsV2(name: string, fd = 0): Buffer {
  const b = Buffer.alloc(VOL_ARGS_SIZE);
  if (name.length === 0 || Buffer.byteLength(name) > VOL_NAME_MAX || name.includes('/'))
    throw new SyscallError('btrfs subvolume name', 22, name);
  b.writeBigInt64LE(BigInt(fd), 0);
  b.write(name, 56, 'utf8');
  return b;
}

export function isBtrfs(path: string): boolean {
  try {
    return statfsSync(path).type >>> 0 === BTRFS_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** A new, empty subvolume `name` in the directory open as `dirFd`. */
export function subvolumeCreate(dirFd: number, name: string): void {
  try {
    ioctl(dirFd, BTRFS_IOC_SUBVOL_CREATE_V2, volArgsV2(name), 'BTRFS_IOC_SUBVOL_CREATE_V2');
  } catch (err) {
    throw withPath(err, name);
  }
}

/** A writable snapshot of the subvolume open as `srcFd`, as `name` in the directory open as `dirFd`. */
export function snapshotCreate(srcFd: number, dirFd: number, name: string): void {
  try {
    ioctl(dirFd, BTRFS_IOC_SNAP_CREATE_V2, volArgsV2(name, srcFd), 'BTRFS_IOC_SNAP_CREATE_V2');
  } catch (err) {
    throw withPath(err, name);
  }
}

/** Deletes subvolume `name` in the directory open as `dirFd`; the space comes back as btrfs' cleaner drops it. */
export function subvolumeDestroy(dirFd: number, name: string): void {
  const b = Buffer.alloc(VOL_ARGS_SIZE);
  b.write(name, 8, 'utf8'); // struct btrfs_ioctl_vol_args: s64 fd, char name[4088]
  try {
    ioctl(dirFd, BTRFS_IOC_SNAP_DESTROY, b, 'BTRFS_IOC_SNAP_DESTROY');
  } catch (err) {
    throw withPath(err, name);
  }
}

/** The id of the subvolume holding the file open as `fd` (its level-0 qgroup has the same number). */
export function subvolumeId(fd: number): bigint {
  const b = Buffer.alloc(4096); // struct btrfs_ioctl_ino_lookup_args: treeid, objectid, name
  b.writeBigUInt64LE(BigInt(BTRFS_FIRST_FREE_OBJECTID), 8);
  ioctl(fd, BTRFS_IOC_INO_LOOKUP, b, 'BTRFS_IOC_INO_LOOKUP');
  return b.readBigUInt64LE(0);
}

/** Turns qgroup accounting on for the filesystem holding `fd` (a no-op when it is on). */
export function quotaEnable(fd: number): void {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(BTRFS_QUOTA_CTL_ENABLE), 0);
  ioctl(fd, BTRFS_IOC_QUOTA_CTL, b, 'BTRFS_IOC_QUOTA_CTL');
}

/**
 * Limits what the subvolume holding `fd` references to `bytes` (0: no limit), as Docker's btrfs
 * driver does: shared extents count, so a snapshot of a 50 MB layer limited to 100 MB can take
 * 50 MB more. Writes past the limit fail with EDQUOT.
 */
export function qgroupLimit(fd: number, bytes: number): void {
  const b = Buffer.alloc(48); // qgroupid 0: the subvolume of fd; then struct btrfs_qgroup_limit
  b.writeBigUInt64LE(BigInt(BTRFS_QGROUP_LIMIT_MAX_RFER), 8);
  b.writeBigUInt64LE(bytes > 0 ? BigInt(bytes) : 0xffffffffffffffffn, 16);
  ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, b, 'BTRFS_IOC_QGROUP_LIMIT');
}

/** Removes level-0 qgroup `id` of the filesystem holding `fd`; EBUSY while its subvolume is still being dropped. */
export function qgroupDestroy(fd: number, id: bigint): void {
  const b = Buffer.alloc(16); // struct btrfs_ioctl_qgroup_create_args: create (0 = destroy), qgroupid
  b.writeBigUInt64LE(id, 8);
  ioctl(fd, BTRFS_IOC_QGROUP_CREATE, b, 'BTRFS_IOC_QGROUP_CREATE');
}

/** Runs fn with `path` open as a directory fd. */
export function withDirFd<T>(path: string, fn: (fd: number) => T): T {
  const fd = openDir(path);
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** `path` open as a directory fd (not following a final symlink), for the ioctls above. */
export function openDir(path: string): number {
  return openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

function withPath(err: unknown, name: string): unknown {
  if (err instanceof SyscallError) return new SyscallError(err.syscall, err.errno, name);
  return err;
}

/** Whether `name` in the directory open as `dirFd` is the root of a subvolume. */
export function isSubvolume(dirFd: number, name: string): boolean {
  try {
    return statx(dirFd, name).ino === BigInt(BTRFS_FIRST_FREE_OBJECTID);
  } catch {
    return false;
  }
}

/**
 * Deletes subvolume `<dir>/<name>` and lifts its limit; nothing when it is not a subvolume (or
 * gone). Whoever writes in a subvolume can make subvolumes in it (no privilege needed on btrfs),
 * and read-only snapshots of them, which no unlink can empty; such a subvolume cannot be
 * deleted in one call, so the ones nested in it are found and deleted first, deepest first,
 * each by its own ioctl (see destroyNested). The level-0 qgroup outlives its subvolume until
 * btrfs' cleaner has dropped it, then the kernel removes it; destroying it at once is tried,
 * and its limit is lifted first so that a qgroup the kernel keeps longer enforces nothing.
 */
export function destroySubvolume(dir: string, name: string): void {
  let dirFd: number;
  try {
    dirFd = openDir(dir);
  } catch {
    return;
  }
  try {
    if (!isSubvolume(dirFd, name)) return;
    let id: bigint | undefined;
    try {
      withDirFd(`${dir}/${name}`, (fd) => {
        id = subvolumeId(fd);
        qgroupLimit(fd, 0);
      });
    } catch {
      /* quotas off: no qgroup to lift */
    }
    destroyNested(dirFd, name);
    if (id === undefined) return;
    try {
      qgroupDestroy(dirFd, id);
    } catch {
      /* EBUSY until the cleaner has dropped the subvolume; ENOTCONN with quotas off */
    }
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Deletes subvolume `name` of the directory open as `dirFd`, with the subvolumes nested in it.
 * Its tree is a container's: every step is taken from the directory fd of the step before,
 * never through a symlink or into a mount point, so nothing outside it is reached.
 */
function destroyNested(dirFd: number, name: string): void {
  try {
    subvolumeDestroy(dirFd, name);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
  }
  const fd = openBeneath(dirFd, name);
  try {
    deleteSubvolumesUnder(fd);
  } finally {
    closeSync(fd);
  }
  subvolumeDestroy(dirFd, name);
}

/** Deletes every subvolume found below the directory open as `fd` (the directories between stay). */
function deleteSubvolumesUnder(fd: number): void {
  for (const entry of readdirSync(`/proc/self/fd/${fd}`, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    if (isSubvolume(fd, entry.name)) {
      destroyNested(fd, entry.name);
      continue;
    }
    const child = openBeneath(fd, entry.name);
    try {
      deleteSubvolumesUnder(child);
    } finally {
      closeSync(child);
    }
  }
}

/** Directory `name` of the one open as `dirFd`, refused if it is a symlink or a mount point. */
function openBeneath(dirFd: number, name: string): number {
  return openat2(
    dirFd,
    name,
    O_RDONLY | O_DIRECTORY | O_CLOEXEC,
    0,
    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
  );
}
