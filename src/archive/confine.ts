// A directory that tar entries are written into and never out of.
//
// Every parent directory is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from a
// descriptor of the target directory, and every entry is then created with an *at call on that
// parent descriptor and a single-component name. The kernel refuses any resolution that would
// leave the directory (an absolute symlink, `..` past the top, a /proc magic link), in one
// syscall and without a window between check and use, which a component-by-component lstat walk
// cannot promise and which is also cheaper than one lstat per component.
// Parent descriptors are cached by path: most tars list many files per directory. The cache is
// emptied on every removal, since a removed or replaced entry may have been on a cached path.
import { closeSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { InvalidParameter } from '../errors.js';
import * as sys from '../native/syscalls.js';

const DIR_FLAGS = sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC;
const CACHE_MAX = 128;

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as { code?: string }).code ?? '');
}

export class ConfinedDir {
  private readonly cache = new Map<string, number>();
  private readonly setgid = new Map<string, boolean>();
  private closed = false;
  /** Missing parents this made (for a count of what the target holds). */
  dirsMade = 0;
  /** Whether anything was removed through removeAll: a count of what was made no longer holds. */
  removedAny = false;

  /**
   * `noSymlinks`: parents are never reached through a symlink, even one that stays inside
   * (untrusted archives: an entry under a link the archive made is refused).
   */
  private constructor(
    readonly fd: number,
    readonly path: string,
    private readonly noSymlinks = false,
  ) {}

  /** Opens `dir` itself (following symlinks: it is the caller's own path). */
  static open(dir: string, opts: { noSymlinks?: boolean } = {}): ConfinedDir {
    return new ConfinedDir(sys.openat2(sys.AT_FDCWD, dir, DIR_FLAGS, 0, 0), dir, opts.noSymlinks);
  }

  /** Opens `path` resolved inside `rootFd` as if it were `/` (docker cp destinations). */
  static openInRoot(rootFd: number, path: string, display: string): ConfinedDir {
    const fd = sys.openat2(
      rootFd,
      path === '' ? '.' : path,
      DIR_FLAGS,
      0,
      sys.RESOLVE_IN_ROOT | sys.RESOLVE_NO_MAGICLINKS,
    );
    return new ConfinedDir(fd, display);
  }

  /** Descriptor of directory `rel` ('' = the top), creating missing ones (0755, root-owned) if asked. */
  dir(rel: string, create: boolean): number {
    if (rel === '' || rel === '.') return this.fd;
    const cached = this.cache.get(rel);
    if (cached !== undefined) return cached;
    let fd: number;
    try {
      fd = sys.openat2(
        this.fd,
        rel,
        DIR_FLAGS,
        0,
        sys.RESOLVE_BENEATH | sys.RESOLVE_NO_MAGICLINKS | (this.noSymlinks ? sys.RESOLVE_NO_SYMLINKS : 0),
      );
    } catch (err) {
      if (create && isErrno(err, 'ENOENT')) fd = this.createDir(rel);
      else if (this.noSymlinks && isErrno(err, 'ELOOP'))
        throw new InvalidParameter(`refusing to import ${JSON.stringify(rel)}: it lies under a symlink`);
      else throw confinementError(err, rel);
    }
    if (this.cache.size >= CACHE_MAX) {
      const [oldest, ofd] = this.cache.entries().next().value as [string, number];
      this.cache.delete(oldest);
      closeSync(ofd);
    }
    this.cache.set(rel, fd);
    return fd;
  }

  /** Descriptor of `rel` for one-off use that never follows any symlink (hardlink targets). */
  openNoSymlinks(rel: string, flags: number): number {
    try {
      return sys.openat2(
        this.fd,
        rel,
        flags | sys.O_CLOEXEC,
        0,
        sys.RESOLVE_BENEATH | sys.RESOLVE_NO_SYMLINKS | sys.RESOLVE_NO_MAGICLINKS,
      );
    } catch (err) {
      throw confinementError(err, rel);
    }
  }

  private createDir(rel: string): number {
    const parent = posix.dirname(rel);
    const pfd = this.dir(parent === '.' ? '' : parent, true);
    const base = posix.basename(rel);
    try {
      sys.mkdirat(pfd, base, 0o755);
      this.dirsMade++;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    try {
      return sys.openat2(pfd, base, DIR_FLAGS | sys.O_NOFOLLOW, 0, sys.RESOLVE_BENEATH | sys.RESOLVE_NO_SYMLINKS);
    } catch (err) {
      throw confinementError(err, rel);
    }
  }

  /** Removes `name` in directory `pfd` and everything below it, never following a symlink. */
  removeAll(pfd: number, name: string): void {
    this.removedAny = true;
    try {
      removeAllAt(pfd, name);
    } finally {
      this.invalidate(); // after: `pfd` itself may be a cached descriptor
    }
  }

  /** Whether directory `rel` has the setgid bit (its new children take its group). */
  isSetgid(rel: string): boolean {
    let v = this.setgid.get(rel);
    if (v === undefined) {
      v = (sys.statx(this.dir(rel, true), '', sys.AT_EMPTY_PATH).mode & 0o2000) !== 0;
      this.setgid.set(rel, v);
    }
    return v;
  }

  /** A directory's mode was just set: its setgid bit must be read again. */
  forgetMode(rel: string): void {
    this.setgid.delete(rel);
  }

  invalidate(): void {
    for (const fd of this.cache.values()) closeSync(fd);
    this.cache.clear();
    this.setgid.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.invalidate();
    closeSync(this.fd);
  }
}

export function removeAllAt(pfd: number, name: string): void {
  try {
    sys.unlinkat(pfd, name, 0);
    return;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    if (!isErrno(err, 'EISDIR', 'EPERM')) throw err;
  }
  let fd: number;
  try {
    fd = sys.openat(pfd, name, DIR_FLAGS | sys.O_NOFOLLOW);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  try {
    for (const child of readdirSync(`/proc/self/fd/${fd}`)) removeAllAt(fd, child);
  } finally {
    closeSync(fd);
  }
  sys.unlinkat(pfd, name, sys.AT_REMOVEDIR);
}

/** Escapes and type clashes on the way to an entry are the tar's fault: 400, not 500. */
export function confinementError(err: unknown, rel: string): unknown {
  if (isErrno(err, 'EXDEV', 'ELOOP'))
    return new InvalidParameter(`invalid path ${JSON.stringify(rel)}: it resolves outside the target directory`);
  if (isErrno(err, 'ENOTDIR'))
    return new InvalidParameter(`invalid path ${JSON.stringify(rel)}: a parent is not a directory`);
  return err;
}
