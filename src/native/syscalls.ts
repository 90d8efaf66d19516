// The few Linux syscalls Node lacks, called through koffi (FFI into libc). Every function is
// synchronous and throws a SyscallError carrying the errno code name (EEXIST, ELOOP…) the way
// Node's own fs errors do, so callers can test `err.code`.
import koffi from 'koffi';
import { constants as osc } from 'node:os';
import { AT_FDCWD, AT_SYMLINK_NOFOLLOW } from './constants.js';

const libc = koffi.load('libc.so.6');

const c = {
  openat: libc.func('int openat(int dirfd, const char *path, int flags, uint32_t mode)'),
  // glibc has no openat2 wrapper; syscall(2) with a fixed prototype is ABI-compatible for
  // integer and pointer arguments. 437 is openat2 on every Linux architecture.
  openat2: libc.func('long syscall(long nr, int dirfd, const char *path, void *how, size_t size)'),
  mkdirat: libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  mknodat: libc.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
  symlinkat: libc.func('int symlinkat(const char *target, int dirfd, const char *path)'),
  linkat: libc.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
  unlinkat: libc.func('int unlinkat(int dirfd, const char *path, int flags)'),
  fchownat: libc.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
  fchmodat: libc.func('int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)'),
  utimensat: libc.func('int utimensat(int dirfd, const char *path, void *times, int flags)'),
  futimens: libc.func('int futimens(int fd, void *times)'),
  readlinkat: libc.func('long readlinkat(int dirfd, const char *path, void *buf, size_t size)'),
  statx: libc.func('int statx(int dirfd, const char *path, int flags, uint32_t mask, void *buf)'),
  fsetxattr: libc.func('int fsetxattr(int fd, const char *name, void *value, size_t size, int flags)'),
  setxattr: libc.func('int setxattr(const char *path, const char *name, void *value, size_t size, int flags)'),
  lsetxattr: libc.func('int lsetxattr(const char *path, const char *name, void *value, size_t size, int flags)'),
  fgetxattr: libc.func('long fgetxattr(int fd, const char *name, void *value, size_t size)'),
  lgetxattr: libc.func('long lgetxattr(const char *path, const char *name, void *value, size_t size)'),
  flistxattr: libc.func('long flistxattr(int fd, void *list, size_t size)'),
  llistxattr: libc.func('long llistxattr(const char *path, void *list, size_t size)'),
  mount: libc.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  ),
  umount2: libc.func('int umount2(const char *target, int flags)'),
  syncfs: libc.func('int syncfs(int fd)'),
  // off64_t arguments: glibc's sync_file_range takes 64-bit offsets on every architecture.
  sync_file_range: libc.func('int sync_file_range(int fd, int64_t offset, int64_t nbytes, unsigned int flags)'),
  strerror: libc.func('const char *strerror(int errnum)'),
};

const SYS_openat2 = 437;
export * from './constants.js';

const errnoNames = new Map<number, string>();
for (const [name, num] of Object.entries(osc.errno)) if (!errnoNames.has(num)) errnoNames.set(num, name);

/** A failed syscall, shaped like Node's fs errors (code, errno, syscall, path). */
export class SyscallError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;
  constructor(syscall: string, errno: number, path?: string) {
    const code = errnoNames.get(errno) ?? `E${errno}`;
    super(`${code}: ${c.strerror(errno) as string}, ${syscall}${path !== undefined ? ` '${path}'` : ''}`);
    this.name = 'SyscallError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
  }
}

function check(ret: number | bigint, syscall: string, path?: string): number {
  const n = Number(ret);
  if (n < 0) throw new SyscallError(syscall, koffi.errno(), path);
  return n;
}

/** openat2(2): opens `path` relative to `dirfd` under the RESOLVE_* restrictions in `resolve`. */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags >>> 0), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  return check(c.openat2(SYS_openat2, dirfd, path, how, 24), 'openat2', path);
}

export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(c.openat(dirfd, path, flags, mode), 'openat', path);
}

export function mkdirat(dirfd: number, path: string, mode: number): void {
  check(c.mkdirat(dirfd, path, mode), 'mkdirat', path);
}

/** mknodat(2); `mode` includes the file type (S_IFCHR…), dev is makedev(major, minor). */
export function mknodat(dirfd: number, path: string, mode: number, major = 0, minor = 0): void {
  check(c.mknodat(dirfd, path, mode, makedev(major, minor)), 'mknodat', path);
}

export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  mknodat(AT_FDCWD, path, mode, major, minor);
}

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

export function symlinkat(target: string, dirfd: number, path: string): void {
  check(c.symlinkat(target, dirfd, path), 'symlinkat', path);
}

export function linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags = 0): void {
  check(c.linkat(olddirfd, oldpath, newdirfd, newpath, flags), 'linkat', newpath);
}

export function unlinkat(dirfd: number, path: string, flags = 0): void {
  check(c.unlinkat(dirfd, path, flags), 'unlinkat', path);
}

export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags = AT_SYMLINK_NOFOLLOW): void {
  check(c.fchownat(dirfd, path, uid >>> 0, gid >>> 0, flags), 'fchownat', path);
}

/** fchmodat(2) without AT_SYMLINK_NOFOLLOW (Linux cannot chmod a symlink): callers pass non-links only. */
export function fchmodat(dirfd: number, path: string, mode: number): void {
  check(c.fchmodat(dirfd, path, mode, 0), 'fchmodat', path);
}

/**
 * The two struct timespec utimensat and futimens read, in one buffer reused by every call (the
 * kernel has copied them before the call returns): set once per file unpacked, a fresh buffer
 * and four BigInts each time cost more than the syscall's own work on a small file.
 */
const times = Buffer.alloc(32);
function timespecs(atime: Timespec, mtime: Timespec): Buffer {
  int64At(atime.sec, 0);
  int64At(atime.nsec, 8);
  int64At(mtime.sec, 16);
  int64At(mtime.nsec, 24);
  return times;
}

/** A whole number (seconds before 1970 too) as a little-endian int64, without a BigInt. */
function int64At(n: number, off: number): void {
  const high = Math.floor(n / 0x1_0000_0000);
  times.writeUInt32LE(n - high * 0x1_0000_0000, off);
  times.writeInt32LE(high, off + 4);
}

/** utimensat(2) with second + nanosecond precision; pass AT_SYMLINK_NOFOLLOW to touch a link itself. */
export function utimensat(
  dirfd: number,
  path: string,
  atime: Timespec,
  mtime: Timespec,
  flags = AT_SYMLINK_NOFOLLOW,
): void {
  check(c.utimensat(dirfd, path, timespecs(atime, mtime), flags), 'utimensat', path);
}

/** futimens(2): times of an open file, nanosecond precision. */
export function futimens(fd: number, atime: Timespec, mtime: Timespec): void {
  check(c.futimens(fd, timespecs(atime, mtime)), 'futimens');
}

export interface Timespec {
  sec: number;
  nsec: number;
}

export function readlinkat(dirfd: number, path: string): string {
  const buf = Buffer.alloc(4096);
  const n = check(c.readlinkat(dirfd, path, buf, buf.length), 'readlinkat', path);
  return buf.toString('utf8', 0, n);
}

export interface Statx {
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  ino: bigint;
  size: number;
  rdevMajor: number;
  rdevMinor: number;
  devMajor: number;
  devMinor: number;
  atime: Timespec;
  mtime: Timespec;
}

const STATX_BASIC_STATS = 0x7ff;

/** statx(2) relative to a directory fd; flags AT_SYMLINK_NOFOLLOW for lstat semantics, AT_EMPTY_PATH for the fd itself. */
export function statx(dirfd: number, path: string, flags = AT_SYMLINK_NOFOLLOW): Statx {
  const b = Buffer.alloc(256);
  check(c.statx(dirfd, path, flags, STATX_BASIC_STATS, b), 'statx', path);
  return {
    nlink: b.readUInt32LE(16),
    uid: b.readUInt32LE(20),
    gid: b.readUInt32LE(24),
    mode: b.readUInt16LE(28),
    ino: b.readBigUInt64LE(32),
    size: Number(b.readBigUInt64LE(40)),
    atime: { sec: Number(b.readBigInt64LE(64)), nsec: b.readUInt32LE(72) },
    mtime: { sec: Number(b.readBigInt64LE(112)), nsec: b.readUInt32LE(120) },
    rdevMajor: b.readUInt32LE(128),
    rdevMinor: b.readUInt32LE(132),
    devMajor: b.readUInt32LE(136),
    devMinor: b.readUInt32LE(140),
  };
}

/** What a disk-usage walk needs to know of one directory entry. */
export interface EntryStat {
  isDirectory: boolean;
  nlink: number;
  size: number;
  /** device and inode, to count a hard-linked file once */
  id: string;
}

const STATX_TYPE_NLINK_INO_SIZE = 0x1 | 0x4 | 0x100 | 0x200;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const entryBuf = Buffer.alloc(256);

/**
 * lstat of `name` in the directory open as `dirfd`, into one reused buffer: a walk over a
 * hundred thousand files spends most of its time in this call, and statx relative to the
 * directory (no path walk, no Stats object) takes about half the time of fs.lstatSync.
 * Undefined when the entry is gone (removed while walking).
 */
export function entryStat(dirfd: number, name: string): EntryStat | undefined {
  if (c.statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE_NLINK_INO_SIZE, entryBuf) !== 0) {
    const e = koffi.errno();
    if (e === osc.errno.ENOENT || e === osc.errno.ENOTDIR) return undefined;
    throw new SyscallError('statx', e, name);
  }
  const nlink = entryBuf.readUInt32LE(16);
  return {
    isDirectory: (entryBuf.readUInt16LE(28) & S_IFMT) === S_IFDIR,
    nlink,
    size: Number(entryBuf.readBigUInt64LE(40)),
    id: nlink > 1 ? `${entryBuf.readUInt32LE(136)}:${entryBuf.readUInt32LE(140)}:${entryBuf.readBigUInt64LE(32)}` : '',
  };
}

export function fsetxattr(fd: number, name: string, value: Buffer, flags = 0): void {
  check(c.fsetxattr(fd, name, value, value.length, flags), 'fsetxattr', name);
}

/** setxattr(2): follows a final symlink (or /proc/self/fd magic link) to the inode. */
export function setxattr(path: string, name: string, value: Buffer, flags = 0): void {
  check(c.setxattr(path, name, value, value.length, flags), 'setxattr', path);
}

export function lsetxattr(path: string, name: string, value: Buffer, flags = 0): void {
  check(c.lsetxattr(path, name, value, value.length, flags), 'lsetxattr', path);
}

function getxattrWith(
  get: (buf: Buffer | null, size: number) => number | bigint,
  syscall: string,
  path: string,
): Buffer | null {
  for (;;) {
    const size = Number(get(null, 0));
    if (size < 0) {
      const e = koffi.errno();
      if (e === osc.errno.ENODATA) return null;
      throw new SyscallError(syscall, e, path);
    }
    if (size === 0) return Buffer.alloc(0);
    const buf = Buffer.alloc(size);
    const n = Number(get(buf, size));
    if (n >= 0) return buf.subarray(0, n);
    const e = koffi.errno();
    if (e === osc.errno.ERANGE) continue; // grew between the two calls
    if (e === osc.errno.ENODATA) return null;
    throw new SyscallError(syscall, e, path);
  }
}

/** lgetxattr(2); null when the attribute is absent (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | null {
  return getxattrWith((b, s) => c.lgetxattr(path, name, b, s), 'lgetxattr', path);
}

export function fgetxattr(fd: number, name: string): Buffer | null {
  return getxattrWith((b, s) => c.fgetxattr(fd, name, b, s), 'fgetxattr', name);
}

function splitNames(buf: Buffer | null): string[] {
  if (!buf || buf.length === 0) return [];
  return buf
    .toString('utf8')
    .split('\0')
    .filter((n) => n !== '');
}

export function llistxattr(path: string): string[] {
  return splitNames(getxattrWith((b, s) => c.llistxattr(path, b, s), 'llistxattr', path));
}

export function flistxattr(fd: number): string[] {
  return splitNames(getxattrWith((b, s) => c.flistxattr(fd, b, s), 'flistxattr', String(fd)));
}

/** mount(2). `data` is the comma-separated option string the filesystem parses (null for none). */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null,
): void {
  check(c.mount(source, target, fstype, flags, data), 'mount', target);
}

export function umount2(target: string, flags = 0): void {
  check(c.umount2(target, flags), 'umount2', target);
}

/** syncfs(2): flushes the whole filesystem holding `fd`. */
export function syncfs(fd: number): void {
  check(c.syncfs(fd), 'syncfs');
}

/** sync_file_range(2) flags. */
export const SYNC_FILE_RANGE_WAIT_BEFORE = 1;
export const SYNC_FILE_RANGE_WRITE = 2;
export const SYNC_FILE_RANGE_WAIT_AFTER = 4;

/**
 * sync_file_range(2): with SYNC_FILE_RANGE_WRITE alone, starts writeback of the dirty pages of
 * `fd` in [offset, offset+nbytes) (nbytes 0: to the end of the file) without waiting for it.
 * It makes nothing durable (no metadata, no device cache flush): it only moves the writing of
 * data that must reach the disk anyway to now, so that a later fsync or syncfs finds it done.
 */
export function syncFileRange(fd: number, offset: number, nbytes: number, flags: number): void {
  check(c.sync_file_range(fd, offset, nbytes, flags), 'sync_file_range');
}

/** syncfs(2) on the thread pool: a flush of many dirty files takes seconds the event loop need not wait. */
export function syncfsAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    (c.syncfs as unknown as { async(fd: number, cb: (err: unknown, ret: number) => void): void }).async(
      fd,
      (err, ret) => {
        if (err) reject(err as Error);
        else if (ret >= 0) resolve();
        else {
          // errno lives on the pool thread that made the call: ask again here to learn it.
          try {
            syncfs(fd);
            resolve();
          } catch (e) {
            reject(e as Error);
          }
        }
      },
    );
  });
}
