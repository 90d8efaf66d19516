// Paths inside a container's root filesystem, resolved the way the kernel would inside the
// container's own root: every symlink (absolute or relative, at any component) is followed
// relative to the rootfs, and ".." never climbs above it. Nothing here ever follows a link to
// the host (the class of bug behind CVE-2021-30465 and the docker cp CVEs).
import fs from 'node:fs';
import path from 'node:path';

const MAX_LINKS = 255;

/** The host path of `unsafePath` inside `root`, with symlinks resolved within `root`. */
export function secureJoin(root: string, unsafePath: string): string {
  const parts = unsafePath.split('/').filter((p) => p && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = path.join(root, ...resolved, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      resolved.push(part);
      continue;
    }
    if (!st.isSymbolicLink()) { resolved.push(part); continue; }
    if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links: ${unsafePath}`);
    const target = fs.readlinkSync(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    parts.unshift(...target.split('/').filter((p) => p && p !== '.'));
  }
  return path.join(root, ...resolved);
}

/** mkdir -p of `dir` inside `root`, through secureJoin at each step; returns the host path. */
export function mkdirInRoot(root: string, dir: string, mode = 0o755): string {
  const parts = dir.split('/').filter(Boolean);
  let current = '/';
  for (const part of parts) {
    current = path.posix.join(current, part);
    const host = secureJoin(root, current);
    // secureJoin left no symlink in the existing prefix, so a recursive mkdir cannot leave the root.
    fs.mkdirSync(host, { recursive: true, mode });
    if (!fs.statSync(host).isDirectory()) throw Object.assign(new Error(`not a directory: ${current}`), { code: 'ENOTDIR' });
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
