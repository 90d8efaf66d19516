// Clearing scratch trees that may still have filesystems mounted in them (a daemon killed
// while a layer was mounted for setup, a build step's rootfs, a staging bind mount).
// Two rules keep this safe: every mount found beneath the tree in /proc/self/mountinfo is
// detached first, deepest first (MNT_DETACH, so a busy one cannot block the daemon's start),
// and the removal itself walks directory fds opened with RESOLVE_NO_XDEV, so it never descends
// into something still mounted: a recursive remove across a bind mount would delete the bind
// source's files.
import fs from 'node:fs';
import path from 'node:path';
import {
  AT_REMOVEDIR,
  MNT_DETACH,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_RDONLY,
  RESOLVE_BENEATH,
  RESOLVE_NO_SYMLINKS,
  RESOLVE_NO_XDEV,
  entryStat,
  openat2,
  umount2,
  unlinkat,
} from '../native/syscalls.js';
import { readMountInfo } from './kernel.js';

const O_CLOEXEC = 0o2000000;

/** Mount points strictly beneath `root` (not `root` itself: it may be an admin's own mount). */
export async function mountPointsBeneath(root: string): Promise<string[]> {
  const real = realOr(root);
  const prefix = real.endsWith('/') ? real : real + '/';
  const seen = new Set<string>();
  for (const m of await readMountInfo()) if (m.mountPoint.startsWith(prefix)) seen.add(m.mountPoint);
  return [...seen];
}

/** Detaches every mount beneath `root`, deepest first; returns the mount points it detached. */
export async function detachMountsBeneath(root: string, keep: string[] = []): Promise<string[]> {
  const kept = keep.map((k) => k.replace(/\/+$/, ''));
  const points = (await mountPointsBeneath(root)).filter((p) => !kept.some((k) => p === k || p.startsWith(k + '/')));
  points.sort((a, b) => depth(b) - depth(a) || b.length - a.length);
  const done: string[] = [];
  for (const p of points) {
    // The same point may be stacked several times; detach until the kernel says it is not one.
    for (let i = 0; i < 64; i++) {
      try {
        umount2(p, MNT_DETACH);
        done.push(p);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EINVAL' || code === 'ENOENT') break; // no longer a mount point (a parent's detach took it)
        throw err;
      }
    }
  }
  return [...new Set(done)];
}

/**
 * Removes `dir` (and everything in it) without crossing into a mount point or following a
 * symlink; what it could not remove because a filesystem is mounted there is returned.
 */
export function removeTreeNoCross(dir: string): string[] {
  const parent = path.dirname(dir);
  const kept: string[] = [];
  let pfd: number;
  try {
    pfd = fs.openSync(parent, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return kept;
    throw err;
  }
  try {
    removeAt(pfd, path.basename(dir), dir, kept);
  } finally {
    fs.closeSync(pfd);
  }
  return kept;
}

/** Every entry of `dir` removed as removeTreeNoCross does; `dir` itself stays. */
export function emptyDirNoCross(dir: string): string[] {
  const kept: string[] = [];
  if (!fs.existsSync(dir)) return kept;
  for (const name of fs.readdirSync(dir)) kept.push(...removeTreeNoCross(path.join(dir, name)));
  return kept;
}

function removeAt(dirfd: number, name: string, display: string, kept: string[]): boolean {
  const st = entryStat(dirfd, name);
  if (!st) return true;
  if (!st.isDirectory) {
    try {
      unlinkat(dirfd, name, 0);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code === 'EBUSY') {
        kept.push(display);
        return false;
      } // a file bind-mounted over
      throw err;
    }
    return true;
  }
  let fd: number;
  try {
    fd = openat2(
      dirfd,
      name,
      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
      0,
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'EXDEV') {
      kept.push(display);
      return false;
    }
    throw err;
  }
  let all = true;
  try {
    for (const child of fs.readdirSync(`/proc/self/fd/${fd}`))
      all = removeAt(fd, child, `${display}/${child}`, kept) && all;
  } finally {
    fs.closeSync(fd);
  }
  if (!all) return false;
  try {
    unlinkat(dirfd, name, AT_REMOVEDIR);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'EBUSY') {
      kept.push(display);
      return false;
    }
    throw err;
  }
  return true;
}

const depth = (p: string) => p.split('/').length;

function realOr(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}
