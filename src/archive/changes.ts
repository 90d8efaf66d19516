// `docker diff`: Docker's change lists, ported from moby's archive/changes.go (ChangesDirs).
// Docker 20.10's overlay2 answers `docker diff` with the naive comparison of the mounted trees
// (checked against the reference daemon: an opaque directory that still exists is "C", its
// vanished lower children "D"; every parent of a change is listed "C"). Strata computes the
// same list from the upper dir and the lowers without mounting anything.
import { closeSync } from 'node:fs';
import * as sys from '../native/syscalls.js';
import type { Change } from './types.js';
import { isErrno } from './confine.js';
import { exportableXattr } from './pack.js';
import { isDir, listDir, readXattrs } from './walk.js';
import { OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './whiteout.js';

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

/**
 * The lowers seen as one read-only tree, the way overlayfs merges them: a whiteout hides the
 * name in the lowers below it, an opaque directory hides everything below it in lower lowers,
 * and only directories merge. Lookups never follow symlinks and never leave a lower.
 */
class LowerView {
  constructor(
    private readonly fds: number[],
    /** Layers applied in the tar's whiteout form too: `.wh.NAME` hides NAME, `.wh..wh..opq` makes its directory opaque. */
    private readonly whiteoutFiles = false,
  ) {}

  private whitedOutIn(fd: number, rel: string): boolean {
    if (!this.whiteoutFiles) return false;
    const slash = rel.lastIndexOf('/');
    return this.statIn(fd, `${rel.slice(0, slash + 1)}${WHITEOUT_PREFIX}${rel.slice(slash + 1)}`) !== null;
  }

  private statIn(fd: number, rel: string): sys.Statx | null {
    const slash = rel.lastIndexOf('/');
    let pfd = fd;
    if (slash >= 0) {
      try {
        pfd = sys.openat2(
          fd,
          rel.slice(0, slash),
          sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC,
          0,
          sys.RESOLVE_BENEATH | sys.RESOLVE_NO_SYMLINKS,
        );
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ELOOP', 'EXDEV')) return null;
        throw err;
      }
    }
    try {
      return sys.statx(pfd, rel.slice(slash + 1));
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
      throw err;
    } finally {
      if (pfd !== fd) closeSync(pfd);
    }
  }

  private opaqueIn(fd: number, rel: string): boolean {
    if (this.whiteoutFiles && this.statIn(fd, `${rel}/${WHITEOUT_OPAQUE}`) !== null) return true;
    const v = sys.lgetxattr(`/proc/self/fd/${fd}/${rel}`, OVERLAY_OPAQUE_XATTR);
    return v !== null && v.length === 1 && v[0] === 0x79;
  }

  /** The visible entry at `rel` and the lowers whose directories merge there (top first). */
  lookup(rel: string): { st: sys.Statx; fd: number; layers: number[] } | null {
    let active = this.fds;
    const parts = rel.split('/');
    let found: sys.Statx | null = null;
    let foundFd = -1;
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i + 1).join('/');
      found = null;
      const merged: number[] = [];
      for (const fd of active) {
        if (this.whitedOutIn(fd, prefix)) break;
        const st = this.statIn(fd, prefix);
        if (st === null) continue;
        if (isWhiteoutDevice(st)) break;
        if (found === null) {
          found = st;
          foundFd = fd;
        }
        if (!isDir(st) || !isDir(found)) break;
        merged.push(fd);
        if (this.opaqueIn(fd, prefix)) break;
      }
      if (found === null) return null;
      if (i < parts.length - 1 && !isDir(found)) return null;
      active = merged;
    }
    return found === null ? null : { st: found, fd: foundFd, layers: active };
  }

  /** Visible children of directory `rel` with their stats. */
  children(rel: string): Map<string, sys.Statx> {
    const out = new Map<string, sys.Statx>();
    const dir = this.lookup(rel);
    if (dir === null || !isDir(dir.st)) return out;
    const hidden = new Set<string>();
    for (const fd of dir.layers) {
      let names: string[];
      try {
        const dfd = sys.openat2(
          fd,
          rel,
          sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC,
          0,
          sys.RESOLVE_BENEATH | sys.RESOLVE_NO_SYMLINKS,
        );
        try {
          names = listDir(dfd);
        } finally {
          closeSync(dfd);
        }
      } catch {
        continue;
      }
      for (const n of names) {
        if (this.whiteoutFiles && n.startsWith(WHITEOUT_PREFIX)) {
          if (n !== WHITEOUT_OPAQUE && !out.has(n.slice(WHITEOUT_PREFIX.length)))
            hidden.add(n.slice(WHITEOUT_PREFIX.length));
          continue;
        }
        if (out.has(n) || hidden.has(n)) continue;
        const st = this.statIn(fd, `${rel}/${n}`);
        if (st === null) continue;
        if (isWhiteoutDevice(st)) hidden.add(n);
        else out.set(n, st);
      }
    }
    return out;
  }
}

/**
 * What Docker 20.10's `docker diff` reports for overlay2: the naive comparison of the merged
 * tree with the merged lowers (observed: an opaque directory that still exists is "C", not
 * "D", and parents of any change are listed). Only paths present in the upper dir can differ,
 * so the walk covers the upper dir and looks each path up in the lowers.
 */
export function overlayChanges(upper: string, lowers: string[], whiteoutFiles = false): Change[] {
  const upperFd = openDir(upper);
  const lowerFds = lowers.map(openDir);
  const out: Change[] = [];
  try {
    diffUpper(upperFd, '', new LowerView(lowerFds, whiteoutFiles), false, false, false, out, whiteoutFiles);
  } finally {
    closeSync(upperFd);
    for (const fd of lowerFds) closeSync(fd);
  }
  return out;
}

/**
 * `upperOnly`: the merged directory shows only the upper's entries (it is opaque, new, or
 * inside such a directory), so lower entries missing from it are deletions.
 */
function diffUpper(
  fd: number,
  rel: string,
  view: LowerView,
  dirAdded: boolean,
  recorded: boolean,
  upperOnly: boolean,
  out: Change[],
  whiteoutFiles: boolean,
): void {
  const sizeAtEntry = out.length;
  const seen = new Set<string>();
  for (const name of listDir(fd)) {
    if (whiteoutFiles && name.startsWith(WHITEOUT_PREFIX)) {
      // The tar's form of a whiteout: not a file of the container's, the deletion of one.
      if (name === WHITEOUT_OPAQUE || upperOnly || dirAdded) continue;
      const victim = name.slice(WHITEOUT_PREFIX.length);
      const victimRel = rel === '' ? victim : `${rel}/${victim}`;
      if (view.lookup(victimRel) !== null) out.push({ Path: `/${victimRel}`, Kind: 2 });
      continue;
    }
    const childRel = rel === '' ? name : `${rel}/${name}`;
    let nst: sys.Statx;
    try {
      nst = sys.statx(fd, name);
    } catch {
      continue;
    }
    seen.add(name);
    const old = dirAdded ? null : view.lookup(childRel);
    if (isWhiteoutDevice(nst)) {
      if (old !== null && !upperOnly) out.push({ Path: `/${childRel}`, Kind: 2 });
      if (upperOnly) seen.delete(name);
      continue;
    }
    let added = false;
    if (old === null) {
      out.push({ Path: `/${childRel}`, Kind: 1 });
      added = true;
    } else if (statDifferent(old.st, nst) || !xattrsEqual(old.fd, childRel, fd, name)) {
      out.push({ Path: `/${childRel}`, Kind: 0 });
      added = true;
    }
    if (!isDir(nst)) continue;
    const cfd = sys.openat(fd, name, DIR_FLAGS | sys.O_NOFOLLOW);
    try {
      const oldIsDir = old !== null && isDir(old.st);
      const opaque = isOpaque(fd, name) || (whiteoutFiles && hasEntry(cfd, WHITEOUT_OPAQUE));
      diffUpper(cfd, childRel, view, !oldIsDir, added, upperOnly || !oldIsDir || opaque, out, whiteoutFiles);
    } finally {
      closeSync(cfd);
    }
  }
  if (upperOnly && !dirAdded) {
    const gone = [...view.children(rel).keys()].filter((n) => !seen.has(n)).sort();
    for (const n of gone) out.push({ Path: rel === '' ? `/${n}` : `/${rel}/${n}`, Kind: 2 });
  }
  if (out.length > sizeAtEntry && !recorded && rel !== '') {
    out.splice(sizeAtEntry, 0, { Path: `/${rel}`, Kind: 0 });
  }
}

function hasEntry(dirFd: number, name: string): boolean {
  try {
    sys.statx(dirFd, name);
    return true;
  } catch {
    return false;
  }
}

function xattrsEqual(afd: number, aname: string, bfd: number, bname: string): boolean {
  const a = readXattrs(afd, aname, exportableXattr);
  const b = readXattrs(bfd, bname, exportableXattr);
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
    } else if (statDifferent(ost, nst) || !xattrsEqual(ofd!, name, nfd, name)) {
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

/** Entries compared between two event-loop turns: a big tree never blocks the daemon for long. */
const USAGE_SLICE = 2000;

/**
 * What Docker's naive diff driver reports as a layer's size (archive.ChangesSize over
 * ChangesDirs): st_size of every added or modified entry that is not a directory, a hard-linked
 * inode once; `inodes` counts those entries, directories included. One walk of `upper` that
 * looks each entry up in `lower` by the same rules as naiveChanges (deletions weigh nothing),
 * yielding to the event loop every USAGE_SLICE entries. Directories are opened beneath the two
 * roots without following symlinks, one at a time.
 */
export async function naiveChangesUsage(upper: string, lower?: string): Promise<{ size: number; inodes: number }> {
  const linked = new Set<bigint>();
  let size = 0;
  let inodes = 0;
  let work = 0;
  const ufd = openDir(upper);
  const lfd = lower ? openDir(lower) : null;
  const beneath = (root: number, rel: string): number | null => {
    if (rel === '') return sys.openat(root, '.', DIR_FLAGS);
    try {
      return sys.openat2(root, rel, DIR_FLAGS, 0, sys.RESOLVE_BENEATH | sys.RESOLVE_NO_SYMLINKS);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ELOOP', 'EXDEV')) return null; // changed while measuring
      throw err;
    }
  };
  // Each directory of upper, and whether lower has a directory at the same path.
  const dirs: { rel: string; inLower: boolean }[] = [{ rel: '', inLower: lfd !== null }];
  try {
    while (dirs.length > 0) {
      const { rel, inLower } = dirs.pop()!;
      const nfd = beneath(ufd, rel);
      if (nfd === null) continue;
      const ofd = inLower && lfd !== null ? beneath(lfd, rel) : null;
      try {
        const oldNames = new Set(ofd === null ? [] : listDir(ofd));
        for (const name of listDir(nfd)) {
          if (++work % USAGE_SLICE === 0) await new Promise((r) => setImmediate(r));
          let nst: sys.Statx;
          try {
            nst = sys.statx(nfd, name);
          } catch {
            continue;
          }
          let ost: sys.Statx | null = null;
          if (ofd !== null && oldNames.has(name)) {
            try {
              ost = sys.statx(ofd, name);
            } catch {
              ost = null;
            }
          }
          const childRel = rel === '' ? name : `${rel}/${name}`;
          if (isDir(nst)) dirs.push({ rel: childRel, inLower: ost !== null && isDir(ost) });
          if (ost !== null && !statDifferent(ost, nst) && xattrsEqual(ofd!, name, nfd, name)) continue;
          inodes++;
          if (isDir(nst)) continue;
          if (nst.nlink > 1) {
            if (linked.has(nst.ino)) continue;
            linked.add(nst.ino);
          }
          size += nst.size;
        }
      } finally {
        closeSync(nfd);
        if (ofd !== null) closeSync(ofd);
      }
    }
  } finally {
    closeSync(ufd);
    if (lfd !== null) closeSync(lfd);
  }
  return { size, inodes };
}
