// Resolving (and creating) a path inside a directory that a running container can write to:
// its root filesystem, or a volume. Every step is taken from the open fd of the directory the
// previous step reached, one component at a time, with the kernel refusing to follow anything
// in that single step (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS); symlinks are read and
// followed here, as the container would see them (absolute targets and ".." stop at the root).
// A container that swaps a component for a symlink to "/" between two steps changes nothing:
// the steps already taken hold directories, not names, and the next step is looked up again.
// Callers get an O_PATH fd of the result and must use that fd (or /proc/self/fd/N), never a
// path string, for whatever they do with it.
import fs from 'node:fs';
import { Conflict, InvalidParameter } from '../errors.js';
import * as sys from '../native/syscalls.js';
import {
  AT_SYMLINK_NOFOLLOW,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_WRONLY,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
} from '../native/constants.js';

const MAX_LINKS = 255;
/** How often a component may change under us before the lookup gives up (a container racing on purpose). */
const MAX_RACES = 64;
const ONE_STEP = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
const DIR_FD = O_PATH | O_DIRECTORY | O_CLOEXEC;

export interface InRootOptions {
  /** Create missing intermediate directories with this mode (mkdir -p). */
  mkdirMode?: number;
  /** Create the last component when it is missing: a directory (mkdirMode, default 0755) or an empty file. */
  create?: 'directory' | 'file';
}

/** An O_PATH fd of a directory the daemon itself chose (a rootfs mount point, a volume's _data). */
export function openTrustedDirectory(hostPath: string): number {
  return sys.openat(sys.AT_FDCWD, hostPath, DIR_FD | O_NOFOLLOW);
}

const split = (p: string) => p.split('/').filter((c) => c !== '' && c !== '.');

const codeOf = (err: unknown) => (err as { code?: string })?.code;

/**
 * An O_PATH fd (close-on-exec) of `unsafePath` inside the directory open as `rootFd`, resolved
 * as the kernel would with that directory as "/". Missing components are created as `opts`
 * says, with mkdirat/openat(O_CREAT|O_EXCL|O_NOFOLLOW) on the parent's fd. Errors: ENOENT
 * (kept as the fs error, with its code) when something is missing and nothing was to be
 * created, InvalidParameter when a component is not a directory or links loop, Conflict when
 * the path keeps changing while it is being resolved.
 */
export function openInRoot(rootFd: number, unsafePath: string, opts: InRootOptions = {}): number {
  const parts = split(unsafePath);
  // stack[0] is the root; stack[i] the directory reached after i components.
  const stack: number[] = [sys.openat(rootFd, '.', DIR_FD)];
  let links = 0;
  let races = 0;
  const created = new Set<string>();
  const raced = (err: unknown) => {
    if (++races > MAX_RACES) {
      throw Object.assign(
        new Conflict(`cannot resolve ${unsafePath}: the path kept changing while it was being resolved`),
        { cause: err },
      );
    }
  };
  try {
    while (parts.length > 0) {
      const part = parts.shift()!;
      const last = parts.length === 0;
      const cur = stack[stack.length - 1];
      if (part === '..') {
        if (stack.length > 1) fs.closeSync(stack.pop()!);
        continue;
      }
      let mode: number;
      try {
        mode = sys.statx(cur, part, AT_SYMLINK_NOFOLLOW).mode;
      } catch (err) {
        if (codeOf(err) !== 'ENOENT') throw err;
        const kind = last ? opts.create : opts.mkdirMode !== undefined ? 'directory' : undefined;
        if (!kind) throw err;
        // Made here before and gone again: someone removes it as fast as it is made.
        const key = `${stack.length}/${part}`;
        if (created.has(key)) raced(err);
        created.add(key);
        try {
          createAt(cur, part, kind, opts.mkdirMode ?? 0o755);
        } catch (createErr) {
          // The directory we hold was removed (ENOENT): what was there is gone, not ours to remake.
          if (codeOf(createErr) !== 'ENOENT') throw createErr;
          throw Object.assign(
            new Conflict(
              `cannot resolve ${unsafePath}: a directory on the path was removed while it was being resolved`,
            ),
            { cause: createErr },
          );
        }
        parts.unshift(part); // look again: what was created may already have been replaced
        continue;
      }
      if ((mode & S_IFMT) === S_IFLNK) {
        let target: string;
        try {
          target = sys.readlinkat(cur, part);
        } catch (err) {
          // No longer a link (EINVAL) or gone (ENOENT): swapped since the statx.
          if (codeOf(err) !== 'EINVAL' && codeOf(err) !== 'ENOENT') throw err;
          raced(err);
          parts.unshift(part);
          continue;
        }
        if (++links > MAX_LINKS) throw new InvalidParameter(`too many levels of symbolic links: ${unsafePath}`);
        if (target.startsWith('/')) while (stack.length > 1) fs.closeSync(stack.pop()!);
        parts.unshift(...split(target));
        continue;
      }
      const isDir = (mode & S_IFMT) === S_IFDIR;
      if (!last && !isDir)
        throw Object.assign(new InvalidParameter(`not a directory: ${unsafePath}`), { code: 'ENOTDIR' });
      let next: number;
      try {
        next = sys.openat2(cur, part, isDir ? DIR_FD : O_PATH | O_CLOEXEC, 0, ONE_STEP);
      } catch (err) {
        // A link (ELOOP), a non-directory (ENOTDIR) or nothing (ENOENT) where statx saw a
        // directory: the entry was swapped in between. Look at it again.
        const code = codeOf(err);
        if (code !== 'ELOOP' && code !== 'ENOTDIR' && code !== 'ENOENT' && code !== 'EXDEV') throw err;
        raced(err);
        parts.unshift(part);
        continue;
      }
      if (isDir && (sys.statx(next, '', sys.AT_EMPTY_PATH).mode & S_IFMT) !== S_IFDIR) {
        fs.closeSync(next);
        raced(undefined);
        parts.unshift(part);
        continue;
      }
      stack.push(next);
    }
    return stack.pop()!;
  } finally {
    for (const fd of stack) fs.closeSync(fd);
  }
}

function createAt(dirFd: number, name: string, kind: 'directory' | 'file', mode: number): void {
  try {
    if (kind === 'directory') {
      sys.mkdirat(dirFd, name, mode);
    } else {
      // O_EXCL|O_NOFOLLOW: never opens (or truncates) whatever a container put there meanwhile.
      fs.closeSync(sys.openat(dirFd, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0o755));
    }
  } catch (err) {
    if (codeOf(err) !== 'EEXIST') throw err;
  }
}

/** Whether the open fd is a directory. */
export function isDirectoryFd(fd: number): boolean {
  return (sys.statx(fd, '', sys.AT_EMPTY_PATH).mode & S_IFMT) === S_IFDIR;
}

/** `mkdir -p` of `dir` inside the directory open as `rootFd`; never creates anything outside it. */
export function mkdirAllInRoot(rootFd: number, dir: string, mode = 0o755): void {
  const fd = openInRoot(rootFd, dir, { mkdirMode: mode, create: 'directory' });
  try {
    if (!isDirectoryFd(fd)) throw Object.assign(new InvalidParameter(`not a directory: ${dir}`), { code: 'ENOTDIR' });
  } finally {
    fs.closeSync(fd);
  }
}
