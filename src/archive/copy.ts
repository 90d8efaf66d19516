// The docker cp engine: paths are resolved inside a container root as if it were `/`
// (`..` at the top stays there, absolute symlinks restart at the root) and every open goes
// through openat2(RESOLVE_IN_ROOT), so neither a hostile link nor one swapped in while the
// container runs can point an operation at the host.
import { closeSync } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { Conflict, InvalidParameter, NotFound, SystemError } from '../errors.js';
import * as sys from '../native/syscalls.js';
import type { PathStat } from './types.js';
import { unpack } from './apply.js';
import { decompressStages } from './compression.js';
import { ConfinedDir, isErrno } from './confine.js';
import { goFileMode } from './filemode.js';
import { headerFor, tarStream, type PackItem } from './pack.js';
import { isDir, walkDir } from './walk.js';
import { EntryWriter } from './writer.js';

const IN_ROOT = sys.RESOLVE_IN_ROOT | sys.RESOLVE_NO_MAGICLINKS;
const MAX_SYMLINKS = 255;
/** How often a component may change under us before a lookup gives up (a container racing on purpose). */
const MAX_RACES = 64;

function openRoot(root: string): number {
  return sys.openat2(sys.AT_FDCWD, root, sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC, 0, 0);
}

/** Docker's PreserveTrailingDotOrSeparator over path.Join("/", path). */
function absolutePath(path: string): string {
  let abs = posix.join('/', path);
  if (path.endsWith('/.') && !abs.endsWith('/.')) abs = abs === '/' ? '/.' : `${abs}/.`;
  else if (path.endsWith('/') && !abs.endsWith('/')) abs += '/';
  return abs;
}

/** Go's filepath.Base: trailing slashes dropped, "/" for the root. */
function goBase(p: string): string {
  const t = p.replace(/\/+$/, '');
  return t === '' ? '/' : posix.basename(t);
}

/**
 * moby's FollowSymlinkInScope: resolves every symlink in `path` within the root, keeping
 * missing components lexically. Returns a root-relative path ('' for the root). A component
 * that stops being a link between its statx and its readlinkat (a container swapping it) is
 * looked at again; one that keeps changing ends in a Conflict, never an errno 500.
 */
export function followSymlinkInScope(rootFd: number, path: string): string {
  const resolved: string[] = [];
  const pending = path.split('/').filter((c) => c !== '' && c !== '.');
  let links = 0;
  let races = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const parent = resolved.join('/');
    let st: sys.Statx;
    let pfd: number;
    try {
      pfd = sys.openat2(rootFd, parent === '' ? '.' : parent, sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC, 0, IN_ROOT);
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      resolved.push(c);
      continue;
    }
    try {
      try {
        st = sys.statx(pfd, c);
      } catch (err) {
        if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
        resolved.push(c);
        continue;
      }
      if ((st.mode & sys.S_IFMT) !== sys.S_IFLNK) {
        resolved.push(c);
        continue;
      }
      if (++links > MAX_SYMLINKS) throw new InvalidParameter(`too many links in ${JSON.stringify(path)}`);
      let target: string;
      try {
        target = sys.readlinkat(pfd, c);
      } catch (err) {
        if (!isErrno(err, 'EINVAL', 'ENOENT')) throw err;
        if (++races > MAX_RACES) throw new Conflict(`${path}: the path kept changing while it was being resolved`);
        links--;
        pending.unshift(c);
        continue;
      }
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
    } finally {
      closeSync(pfd);
    }
  }
  return resolved.join('/');
}

interface Resolved {
  absPath: string;
  /** Root-relative directory holding the target, symlinks resolved. */
  dir: string;
  /** Name in `dir`, or '' when the target is `dir` itself (trailing "/" or "/."). */
  base: string;
}

function resolvePath(rootFd: number, path: string): Resolved {
  const absPath = absolutePath(path);
  const slash = absPath.lastIndexOf('/');
  const base = absPath.slice(slash + 1);
  const dir = followSymlinkInScope(rootFd, absPath.slice(0, slash + 1));
  return { absPath, dir, base: base === '.' ? '' : base };
}

/**
 * A path that is not there; one whose parent is a file is dockerd's 500 "lstat PATH: not a
 * directory" (the container's path, never the host's).
 */
function notFound(path: string, err?: unknown): NotFound | SystemError {
  if (err !== undefined && isErrno(err, 'ENOTDIR'))
    return new SystemError(`lstat ${path}: not a directory`, { cause: err });
  return new NotFound(`Could not find the file ${path}`);
}

function openDirInRoot(rootFd: number, rel: string, flags = sys.O_PATH): number {
  return sys.openat2(rootFd, rel === '' ? '.' : rel, flags | sys.O_DIRECTORY | sys.O_CLOEXEC, 0, IN_ROOT);
}

/** The directory fd and name (or '' for the directory itself) of a resolved target, and its lstat. */
function locate(rootFd: number, r: Resolved, path: string): { pfd: number; st: sys.Statx } {
  let pfd: number;
  try {
    pfd = openDirInRoot(rootFd, r.dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw notFound(path, err);
    throw err;
  }
  try {
    const st = r.base === '' ? sys.statx(pfd, '', sys.AT_EMPTY_PATH) : sys.statx(pfd, r.base);
    return { pfd, st };
  } catch (err) {
    closeSync(pfd);
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw notFound(path, err);
    throw err;
  }
}

/** Go's time.Time JSON form (RFC 3339 with trimmed nanoseconds), in UTC. */
function rfc3339(t: sys.Timespec): string {
  const base = new Date(t.sec * 1000).toISOString().slice(0, 19);
  const frac = t.nsec ? `.${String(t.nsec).padStart(9, '0').replace(/0+$/, '')}` : '';
  return `${base}${frac}Z`;
}

function toPathStat(rootFd: number, r: Resolved, st: sys.Statx): PathStat {
  const isLink = (st.mode & sys.S_IFMT) === sys.S_IFLNK;
  return {
    name: goBase(r.absPath),
    size: st.size,
    mode: goFileMode(st.mode),
    mtime: rfc3339(st.mtime),
    linkTarget: isLink ? `/${followSymlinkInScope(rootFd, r.absPath)}` : '',
  };
}

export async function statPath(root: string, path: string): Promise<PathStat> {
  const rootFd = openRoot(root);
  try {
    const r = resolvePath(rootFd, path);
    const { pfd, st } = locate(rootFd, r, path);
    closeSync(pfd);
    return toPathStat(rootFd, r, st);
  } finally {
    closeSync(rootFd);
  }
}

/**
 * What packPath archives, opened before its stat is reported: the header and the tar then
 * describe the same file even if the container renames things in between (a second lookup
 * could find something else, or nothing, after the 200 has gone out).
 */
interface PackSource {
  pfd: number;
  base: string;
  st: sys.Statx;
}

function openPackSource(rootFd: number, r: Resolved, path: string): PackSource {
  // A target named by its directory ("dir/" or "dir/.") is archived from its parent.
  const dir = r.base === '' ? posix.dirname(`/${r.dir}`).slice(1) : r.dir;
  const base = r.base === '' ? (r.dir === '' ? '.' : posix.basename(r.dir)) : r.base;
  let pfd: number;
  try {
    pfd = openDirInRoot(rootFd, dir, sys.O_RDONLY);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw notFound(path, err);
    throw err;
  }
  try {
    return { pfd, base, st: sys.statx(pfd, base) };
  } catch (err) {
    closeSync(pfd);
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw notFound(path, err);
    throw err;
  }
}

function* pathItems(src: PackSource, rebase: string): Generator<PackItem> {
  const { pfd, base, st } = src;
  const seen = new Map<string, string>();
  const top = headerFor({ pfd, base, st }, rebase, seen);
  if (top) yield top;
  if (!isDir(st)) return;
  const fd = sys.openat(pfd, base, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_NOFOLLOW | sys.O_CLOEXEC);
  try {
    for (const w of walkDir(fd, rebase)) {
      const item = headerFor(w, w.rel, seen);
      if (item) yield item;
    }
  } finally {
    closeSync(fd);
  }
}

export async function packPath(root: string, path: string): Promise<{ stat: PathStat; stream: Readable }> {
  const rootFd = openRoot(root);
  let src: PackSource;
  let stat: PathStat;
  try {
    const r = resolvePath(rootFd, path);
    src = openPackSource(rootFd, r, path);
    try {
      // From the very statx the tar's first header is made of (for a link, the link itself).
      stat = toPathStat(rootFd, r, src.st);
    } catch (err) {
      closeSync(src.pfd);
      throw err;
    }
  } finally {
    closeSync(rootFd);
  }
  const rebase = stat.name === '/' ? '.' : stat.name;
  const stream = tarStream(pathItems(src, rebase));
  // Closed with the stream, read to the end or not.
  stream.once('close', () => closeSync(src.pfd));
  return { stat, stream };
}

export interface ExtractOptions {
  noOverwriteDirNonDir?: boolean;
  /** Owner for every extracted entry instead of the tar's (docker cp without --archive). */
  chown?: { uid: number; gid: number };
}

export async function extractTo(root: string, path: string, input: Readable, opts: ExtractOptions = {}): Promise<void> {
  const rootFd = openRoot(root);
  let dest: ConfinedDir | undefined;
  try {
    // The last component is followed too: extracting "to a symlink" means to its directory.
    const absPath = absolutePath(path);
    const resolved = followSymlinkInScope(rootFd, absPath);
    let st: sys.Statx;
    try {
      const fd = sys.openat2(rootFd, resolved === '' ? '.' : resolved, sys.O_PATH | sys.O_CLOEXEC, 0, IN_ROOT);
      st = sys.statx(fd, '', sys.AT_EMPTY_PATH);
      closeSync(fd);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw notFound(path, err);
      throw err;
    }
    if (!isDir(st)) throw new InvalidParameter('extraction point is not a directory');
    // Decompression is chosen from the stream before the destination is opened.
    const { stream, stages } = await decompressStages(input);
    dest = ConfinedDir.openInRoot(rootFd, resolved, absPath);
    await unpack(stream, stages, new EntryWriter(dest, opts));
  } finally {
    dest?.close();
    closeSync(rootFd);
  }
}
