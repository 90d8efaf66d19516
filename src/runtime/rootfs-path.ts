// Paths inside a container's root filesystem, resolved the way the kernel would inside the
// container's own root: every symlink (absolute or relative, at any component) is followed
// relative to the rootfs, and ".." never climbs above it. Nothing here ever follows a link to
// the host (the class of bug behind CVE-2021-30465 and the docker cp CVEs).
import fs from 'node:fs';
import path from 'node:path';
import { mkdirAllInRoot, openTrustedDirectory } from '../mount/in-root.js';

const MAX_LINKS = 255;

/** The host path of `unsafePath` inside `root`, with symlinks resolved within `root`. */
export function secureJoin(root: string, unsafePath: string): string {
  const parts = unsafePath.split('/').filter((p) => p && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      resolved.push(part);
      continue;
    }
    if (!st.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links: ${unsafePath}`);
    const target = fs.readlinkSync(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    parts.unshift(...target.split('/').filter((p) => p && p !== '.'));
  }
  return path.join(root, ...resolved);
}

/**
 * mkdir -p of `dir` inside `root`, one component at a time on directory fds (mount/in-root.ts),
 * so a container swapping a component for a symlink cannot get a directory made outside the
 * root. Returns the host path of the result, for display only: a path string inside a root a
 * container can write to is not safe to act on.
 */
export function mkdirInRoot(root: string, dir: string, mode = 0o755): string {
  const rootFd = openTrustedDirectory(root);
  try {
    mkdirAllInRoot(rootFd, dir, mode);
  } finally {
    fs.closeSync(rootFd);
  }
  return secureJoin(root, dir);
}

/** Reads a regular file inside `root` without following a final symlink; undefined if absent. */
export function readFileInRoot(root: string, file: string): string | undefined {
  const host = secureJoin(root, file);
  let fd: number;
  try {
    fd = fs.openSync(host, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return undefined;
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}
