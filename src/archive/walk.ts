// Descriptor-based tree walk: every directory is opened from its parent's descriptor with
// O_NOFOLLOW, so a symlink swapped in while a container runs can never lead the walk out of the
// tree (CVE-2018-15664). Order is Go's filepath.WalkDir: depth first, names sorted.
import { closeSync, readdirSync } from 'node:fs';
import * as sys from '../native/syscalls.js';

export interface WalkEntry {
  /** Path relative to the walk's top, '/'-separated. */
  rel: string;
  /** Descriptor of the containing directory (valid until the walk moves on) and the entry's name in it. */
  pfd: number;
  base: string;
  st: sys.Statx;
}

const DIR_FLAGS = sys.O_RDONLY | sys.O_DIRECTORY | sys.O_NOFOLLOW | sys.O_CLOEXEC;

export function isDir(st: { mode: number }): boolean {
  return (st.mode & sys.S_IFMT) === sys.S_IFDIR;
}

export function listDir(fd: number): string[] {
  return readdirSync(`/proc/self/fd/${fd}`).sort(byteOrder);
}

/** Go sorts names by bytes; for UTF-8 that is code point order. */
export function byteOrder(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Walks the children of directory `fd` (not `fd` itself); `prefix` is prepended to every rel. */
export function* walkDir(fd: number, prefix = ''): Generator<WalkEntry> {
  for (const base of listDir(fd)) {
    let st: sys.Statx;
    try {
      st = sys.statx(fd, base);
    } catch {
      continue; // removed meanwhile: a running container may change its tree under us
    }
    const rel = prefix === '' ? base : `${prefix}/${base}`;
    yield { rel, pfd: fd, base, st };
    if (!isDir(st)) continue;
    let cfd: number;
    try {
      cfd = sys.openat(fd, base, DIR_FLAGS);
    } catch {
      continue;
    }
    try {
      yield* walkDir(cfd, rel);
    } finally {
      closeSync(cfd);
    }
  }
}

/** Reads xattrs of `base` in `pfd` without following it; names filtered by `keep`. */
export function readXattrs(pfd: number, base: string, keep: (name: string) => boolean): Array<[string, Buffer]> {
  const path = `/proc/self/fd/${pfd}/${base}`;
  let names: string[];
  try {
    names = sys.llistxattr(path);
  } catch {
    return [];
  }
  const out: Array<[string, Buffer]> = [];
  for (const n of names.sort()) {
    if (!keep(n)) continue;
    const v = sys.lgetxattr(path, n);
    if (v !== null) out.push([n, v]);
  }
  return out;
}
