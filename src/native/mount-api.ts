// Linux's file-descriptor mount API (open_tree, move_mount, mount_setattr; Linux 5.12+),
// through koffi like syscalls.ts. A mount made this way is held by an fd from before it is
// attached until after it is detached: read-only and propagation are set on the detached copy
// (no window where it is attached read-write), it is attached onto an already opened target
// (no path a container could swap), and the fd still names exactly that mount afterwards, so
// it can be unmounted without looking anything up by path again.
import koffi from 'koffi';
import { SyscallError } from './syscalls.js';
import { AT_EMPTY_PATH, MS_PRIVATE, O_CLOEXEC } from './constants.js';

const libc = koffi.load('libc.so.6');

// Syscall numbers from 424 on are the same on every Linux architecture.
const SYS_open_tree = 428;
const SYS_move_mount = 429;
const SYS_mount_setattr = 442;

const c = {
  openTree: libc.func('long syscall(long nr, int dfd, const char *path, unsigned int flags)'),
  moveMount: libc.func(
    'long syscall(long nr, int fromDfd, const char *fromPath, int toDfd, const char *toPath, unsigned int flags)',
  ),
  mountSetattr: libc.func(
    'long syscall(long nr, int dfd, const char *path, unsigned int flags, void *attr, size_t size)',
  ),
};

export const OPEN_TREE_CLONE = 1;
export const AT_RECURSIVE = 0x8000;
export const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
export const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
export const MOUNT_ATTR_RDONLY = 0x1;

function check(ret: number | bigint, syscall: string, path?: string): number {
  const n = Number(ret);
  if (n < 0) throw new SyscallError(syscall, koffi.errno(), path);
  return n;
}

/**
 * A detached copy of the mount tree at `fd` (an O_PATH fd of a directory or file, or any fd
 * when `path` is given relative to it): what `mount --bind` (or `--rbind`, when `recursive`)
 * would attach, not yet attached anywhere. Returns the new mount's fd (close-on-exec).
 */
export function openTreeClone(fd: number, recursive: boolean, path = ''): number {
  const flags = OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? AT_RECURSIVE : 0) | (path === '' ? AT_EMPTY_PATH : 0);
  return check(c.openTree(SYS_open_tree, fd, path, flags), 'open_tree', path || `fd ${fd}`);
}

/** mount_setattr(2) on the whole tree of `mountFd`: read-only if asked, and private propagation. */
export function setTreeAttributes(mountFd: number, opts: { readOnly: boolean }): void {
  const attr = Buffer.alloc(32);
  attr.writeBigUInt64LE(BigInt(opts.readOnly ? MOUNT_ATTR_RDONLY : 0), 0); // attr_set
  attr.writeBigUInt64LE(0n, 8); // attr_clr
  attr.writeBigUInt64LE(BigInt(MS_PRIVATE), 16); // propagation
  check(
    c.mountSetattr(SYS_mount_setattr, mountFd, '', AT_EMPTY_PATH | AT_RECURSIVE, attr, attr.length),
    'mount_setattr',
  );
}

/** Attaches the detached mount `mountFd` onto the open file or directory `targetFd`. */
export function moveMountOnto(mountFd: number, targetFd: number): void {
  check(
    c.moveMount(SYS_move_mount, mountFd, '', targetFd, '', MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH),
    'move_mount',
  );
}

/** Attaches the detached mount `mountFd` at `target`, a path the caller alone controls. */
export function moveMountTo(mountFd: number, target: string): void {
  check(c.moveMount(SYS_move_mount, mountFd, '', -100, target, MOVE_MOUNT_F_EMPTY_PATH), 'move_mount', target);
}
