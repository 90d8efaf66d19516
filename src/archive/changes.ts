// `docker diff`: Docker's change lists, ported from moby's archive/changes.go.
// overlay: the upper dir is walked (OverlayChanges); whiteout devices and opaque directories
// are deletions, a path that also exists in a lower is a modification, anything else an add.
// naive: the full copies are compared tree against tree (ChangesDirs).
import { closeSync } from 'node:fs';
import { posix } from 'node:path';
import * as sys from '../native/syscalls.js';
import type { Change } from './types.js';
import { isErrno } from './confine.js';
import { exportableXattr } from './pack.js';
import { isDir, listDir, readXattrs, walkDir } from './walk.js';
import { OVERLAY_OPAQUE_XATTR } from './whiteout.js';

const DIR_FLAGS = sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC;

export function openDir(path: string): number {
  return sys.openat2(sys.AT_FDCWD, path, DIR_FLAGS, 0, 0);
}

export function isWhiteoutDevice(st: sys.Statx): boolean {
  return (st.mode & sys.S_IFMT) === sys.S_IFCHR && st.rdevMajor === 0 && st.rdevMinor === 0;
}

export function isOpaque(pfd: number, base: string): boolean {
  const v = sys.lgetxattr(`/proc/self/fd/${pfd}/${base}`, OVERLAY_OPAQUE_XATTR);
  return v !== null && v.length === 1 && v[0] === 0x79;
}

/** Go's sameFsTime: equal, or the same second with one side lacking nanoseconds (tar round trip). */
function sameFsTime(a: sys.Timespec, b: sys.Timespec): boolean {
  return (a.sec === b.sec && a.nsec === b.nsec) || (a.sec === b.sec && (a.nsec === 0 || b.nsec === 0));
}

/** stat (following the last link) of `rel` inside a lower, resolved as if the lower were `/`. */
function statInLower(lowerFd: number, rel: string): sys.Statx | null {
  let fd: number;
  try {
    fd = sys.openat2(lowerFd, rel, sys.O_PATH | sys.O_CLOEXEC, 0, sys.RESOLVE_IN_ROOT | sys.RESOLVE_NO_MAGICLINKS);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ELOOP')) return null;
    throw err;
  }
  try {
    return sys.statx(fd, '', sys.AT_EMPTY_PATH);
  } finally {
    closeSync(fd);
  }
}

export function overlayChanges(upper: string, lowers: string[]): Change[] {
  const upperFd = openDir(upper);
  const lowerFds = lowers.map(openDir);
  const changes: Change[] = [];
  const changedDirs = new Set<string>();
  try {
    walk: for (const w of walkDir(upperFd)) {
      const path = `/${w.rel}`;
      let kind: Change['Kind'];
      if (isWhiteoutDevice(w.st) || (isDir(w.st) && isOpaque(w.pfd, w.base))) {
        kind = 2;
      } else {
        kind = 1;
        for (const lfd of lowerFds) {
          const lst = statInLower(lfd, w.rel);
          if (lst === null) continue;
          // A directory that only holds changes is listed as a parent below, not for itself.
          if (isDir(lst) && isDir(w.st) && lst.size === w.st.size && lst.mode === w.st.mode && sameFsTime(lst.mtime, w.st.mtime)) {
            continue walk;
          }
          kind = 0;
          break;
        }
      }
      if (isDir(w.st)) changedDirs.add(path);
      if (kind !== 0) {
        const parent = posix.dirname(path);
        if (parent !== '/' && !changedDirs.has(parent)) {
          changes.push({ Path: parent, Kind: 0 });
          changedDirs.add(parent);
        }
      }
      changes.push({ Path: path, Kind: kind });
    }
  } finally {
    closeSync(upperFd);
    for (const fd of lowerFds) closeSync(fd);
  }
  return changes;
}

function xattrsEqual(afd: number, bfd: number, name: string): boolean {
  const a = readXattrs(afd, name, exportableXattr);
  const b = readXattrs(bfd, name, exportableXattr);
  return a.length === b.length && a.every(([k, v], i) => k === b[i]![0] && v.equals(b[i]![1]));
}

/** Go's statDifferent plus xattrs: directories are not judged by size or mtime. */
function statDifferent(o: sys.Statx, n: sys.Statx): boolean {
  return (
    o.mode !== n.mode ||
    o.uid !== n.uid ||
    o.gid !== n.gid ||
    o.rdevMajor !== n.rdevMajor ||
    o.rdevMinor !== n.rdevMinor ||
    (!isDir(o) && (!sameFsTime(o.mtime, n.mtime) || o.size !== n.size))
  );
}

function diffDir(nfd: number, ofd: number | null, dirPath: string, dirAdded: boolean, out: Change[]): void {
  const sizeAtEntry = out.length;
  const oldNames = new Set(ofd === null ? [] : listDir(ofd));
  const join = (name: string) => (dirPath === '/' ? `/${name}` : `${dirPath}/${name}`);
  for (const name of listDir(nfd)) {
    let nst: sys.Statx;
    try {
      nst = sys.statx(nfd, name);
    } catch {
      continue;
    }
    let ost: sys.Statx | null = null;
    if (ofd !== null && oldNames.has(name)) {
      oldNames.delete(name);
      try {
        ost = sys.statx(ofd, name);
      } catch {
        ost = null;
      }
    }
    let added = false;
    if (ost === null) {
      out.push({ Path: join(name), Kind: 1 });
      added = true;
    } else if (statDifferent(ost, nst) || !xattrsEqual(ofd!, nfd, name)) {
      out.push({ Path: join(name), Kind: 0 });
      added = true;
    }
    if (!isDir(nst)) continue;
    const ncfd = sys.openat(nfd, name, DIR_FLAGS | sys.O_NOFOLLOW);
    const ocfd = ost !== null && isDir(ost) ? sys.openat(ofd!, name, DIR_FLAGS | sys.O_NOFOLLOW) : null;
    try {
      diffDir(ncfd, ocfd, join(name), added, out);
    } finally {
      closeSync(ncfd);
      if (ocfd !== null) closeSync(ocfd);
    }
  }
  for (const name of [...oldNames].sort()) out.push({ Path: join(name), Kind: 2 });
  // A directory with changes inside is listed (before them) even if it did not change itself.
  if (out.length > sizeAtEntry && !dirAdded && dirPath !== '/') out.splice(sizeAtEntry, 0, { Path: dirPath, Kind: 0 });
}

export function naiveChanges(upper: string, lower?: string): Change[] {
  const nfd = openDir(upper);
  const ofd = lower ? openDir(lower) : null;
  const out: Change[] = [];
  try {
    diffDir(nfd, ofd, '/', ofd === null, out);
  } finally {
    closeSync(nfd);
    if (ofd !== null) closeSync(ofd);
  }
  return out;
}
