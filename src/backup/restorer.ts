// Restores a snapshot of a local repository into an empty directory, reading the repository
// directly (repo-reader.ts). restic 0.14's own restorer preallocates and truncates every file
// from several threads and spends most of a restore in the kernel on ext4; this one writes
// each file once, front to back, leaves 4 KiB blocks of zeros as holes (sparse files stay
// sparse), links hardlinks, and sets owners, modes, xattrs (ACLs included) and times as restic
// recorded them, directories last. Node types it does not handle (devices, sockets) make the
// caller fall back to `restic restore`.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import koffi from 'koffi';
import { DamagedRepository, RepositoryReader, type TreeNode } from './repo-reader.js';

export class UnsupportedNode extends Error {}
/** A node a restore refuses (restore-rules.ts): the whole restore fails. */
export class RefusedNode extends Error {}

const BLOCK = 4096;
const ZERO = Buffer.alloc(BLOCK);

type XattrFns = {
  lset: (path: string, name: string, value: Buffer, size: number, flags: number) => number;
  fset: (fd: number, name: string, value: Buffer, size: number, flags: number) => number;
};
let xattr: XattrFns | undefined;
function xattrFns(): XattrFns {
  if (!xattr) {
    const libc = koffi.load('libc.so.6');
    xattr = {
      lset: libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
      fset: libc.func('int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)'),
    };
  }
  return xattr;
}

/** Go's os.FileMode permission and special bits → a Unix mode. */
export function unixPermissions(goMode: number): number {
  let m = goMode & 0o777;
  if (goMode & (1 << 23)) m |= 0o4000;
  if (goMode & (1 << 22)) m |= 0o2000;
  if (goMode & (1 << 20)) m |= 0o1000;
  return m;
}

/** RFC 3339 with nanoseconds → seconds since the epoch, keeping what a double can. */
function seconds(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const frac = /\.(\d+)/.exec(t)?.[1] ?? '';
  const base = Date.parse(t.replace(/\.\d+/, ''));
  return Number.isNaN(base) ? undefined : base / 1000 + (frac ? Number(`0.${frac}`) : 0);
}

/** The mode to set; without trust in the repository no setuid or setgid bit (restore-rules.ts). */
function modeOf(n: TreeNode, stripSetid: boolean): number {
  const m = unixPermissions(n.mode ?? 0o644);
  return stripSetid ? m & 0o1777 : m;
}

function applyMetadata(p: string, n: TreeNode, symlink: boolean, stripSetid: boolean): void {
  fs.lchownSync(p, n.uid ?? 0, n.gid ?? 0);
  if (!symlink) fs.chmodSync(p, modeOf(n, stripSetid));
  for (const x of n.extended_attributes ?? []) {
    const v = Buffer.from(x.value, 'base64');
    if (xattrFns().lset(p, x.name, v, v.length, 0) !== 0) throw new Error(`setting xattr ${x.name} on ${p} failed`);
  }
  const mtime = seconds(n.mtime);
  if (mtime !== undefined) {
    const atime = seconds(n.atime) ?? mtime;
    if (symlink) fs.lutimesSync(p, atime, mtime);
    else fs.utimesSync(p, atime, mtime);
  }
}

/** The same through an open file: no path lookups, which dominate restoring many small files. */
function applyFileMetadata(fd: number, p: string, n: TreeNode, stripSetid: boolean): void {
  fs.fchownSync(fd, n.uid ?? 0, n.gid ?? 0);
  fs.fchmodSync(fd, modeOf(n, stripSetid));
  for (const x of n.extended_attributes ?? []) {
    const v = Buffer.from(x.value, 'base64');
    if (xattrFns().fset(fd, x.name, v, v.length, 0) !== 0) throw new Error(`setting xattr ${x.name} on ${p} failed`);
  }
  const mtime = seconds(n.mtime);
  if (mtime !== undefined) fs.futimesSync(fd, seconds(n.atime) ?? mtime, mtime);
}

/** Writes `data` at file offset `offset`, leaving all-zero file blocks unwritten (holes). */
export function writeSparse(fd: number, data: Buffer, offset: number): number {
  const zeroAt = (i: number) => data.compare(ZERO, 0, BLOCK, i, i + BLOCK) === 0;
  let written = 0;
  let i = 0;
  while (i < data.length) {
    const pos = offset + i;
    const blockEnd = Math.min(data.length, i + (BLOCK - (pos % BLOCK)));
    if (pos % BLOCK === 0 && blockEnd - i === BLOCK && zeroAt(i)) {
      i = blockEnd;
      continue;
    }
    // From blockEnd on, j stays on the file's block grid (or at the end of data).
    let j = blockEnd;
    while (j < data.length) {
      const next = Math.min(data.length, j + BLOCK);
      if (next - j === BLOCK && zeroAt(j)) break;
      j = next;
    }
    fs.writeSync(fd, data, i, j - i, pos);
    written = offset + j;
    i = j;
  }
  return written;
}

export interface RestoreProgress {
  bytes: number;
  files: number;
}

/** A regular file to write: its path in the target and its tree node. */
export interface FileJob {
  path: string;
  node: TreeNode;
}

export interface RestorePlan {
  files: FileJob[];
  /** Further names of hardlinked files: [existing, new]. */
  links: [string, string][];
  /** Directories, parents before children, whose metadata is set last. */
  dirs: [string, TreeNode][];
}

/**
 * Creates the directory tree, symlinks and fifos of snapshot `snapshotId` under `target` and
 * lists the regular files to write; the file content can then be written by several threads.
 */
export function planRestore(
  reader: RepositoryReader,
  snapshotId: string,
  target: string,
  stripSetid = false,
): RestorePlan {
  const plan: RestorePlan = { files: [], links: [], dirs: [] };
  const firstLink = new Map<string, string>();
  const walk = (treeId: string, dir: string): void => {
    for (const n of reader.tree(treeId)) {
      if (!n.name || n.name === '.' || n.name === '..' || n.name.includes('/'))
        throw new DamagedRepository(`invalid name ${JSON.stringify(n.name)} in tree ${treeId}`);
      const p = path.join(dir, n.name);
      switch (n.type) {
        case 'dir':
          fs.mkdirSync(p, { mode: 0o700 });
          plan.dirs.push([p, n]);
          walk(n.subtree ?? '', p);
          break;
        case 'file': {
          if ((n.links ?? 1) > 1) {
            const key = `${n.device_id}:${n.inode}`;
            const first = firstLink.get(key);
            if (first) {
              plan.links.push([first, p]);
              break;
            }
            firstLink.set(key, p);
          }
          plan.files.push({ path: p, node: n });
          break;
        }
        case 'symlink':
          fs.symlinkSync(n.linktarget_raw ? Buffer.from(n.linktarget_raw, 'base64') : (n.linktarget ?? ''), p);
          applyMetadata(p, n, true, stripSetid);
          break;
        case 'fifo':
          execFileSync('mkfifo', [p]);
          applyMetadata(p, n, false, stripSetid);
          break;
        case 'dev':
        case 'chardev':
          throw new RefusedNode(
            `refusing to restore device node ${JSON.stringify(path.relative(target, p))}: device nodes are not allowed in a volume`,
          );
        default:
          throw new UnsupportedNode(`${n.type} ${p}`);
      }
    }
  };
  walk(reader.snapshot(snapshotId).tree, target);
  return plan;
}

/** Splits file jobs into `n` shares of about equal bytes. */
export function shareFiles(files: FileJob[], n: number): FileJob[][] {
  const shares = Array.from({ length: n }, () => ({ bytes: 0, files: [] as FileJob[] }));
  for (const f of files) {
    const lightest = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    lightest.files.push(f);
    lightest.bytes += (f.node.size ?? 0) + 4096;
  }
  return shares.map((s) => s.files);
}

export function writeFiles(
  reader: RepositoryReader,
  files: FileJob[],
  onProgress?: (p: RestoreProgress) => void,
  stripSetid = false,
): RestoreProgress {
  const done: RestoreProgress = { bytes: 0, files: 0 };
  let reported = 0;
  for (const { path: p, node: n } of files) {
    const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
      let offset = 0;
      let end = 0;
      for (const id of n.content ?? []) {
        const data = reader.blob(id);
        end = Math.max(end, writeSparse(fd, data, offset));
        offset += data.length;
      }
      if (offset !== (n.size ?? offset))
        throw new DamagedRepository(`${p}: content is ${offset} bytes, the tree says ${n.size}`);
      if (end < offset) fs.ftruncateSync(fd, offset);
      applyFileMetadata(fd, p, n, stripSetid);
      done.bytes += offset;
      done.files++;
    } finally {
      fs.closeSync(fd);
    }
    if (onProgress && done.bytes - reported >= 16 << 20) {
      reported = done.bytes;
      onProgress({ ...done });
    }
  }
  return done;
}

/** Links the further names of hardlinked files, then sets directory metadata, deepest first. */
export function finishRestore(plan: RestorePlan, stripSetid = false): void {
  for (const [first, p] of plan.links) fs.linkSync(first, p);
  for (const [p, n] of [...plan.dirs].reverse()) applyMetadata(p, n, false, stripSetid);
}
