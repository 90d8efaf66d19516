// Writes COPY/ADD sources into a mounted image root, with Docker's destination rules: a
// directory source copies its contents, a file lands at the destination path unless that ends
// with "/" or is an existing directory, new parent directories are created 0755, ownership is
// 0:0 unless --chown, modes and modification times are kept (or --chmod), and ADD unpacks a
// local tar archive. Every destination path is resolved inside the root.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { secureJoin } from '../runtime/rootfs-path.js';
import { extractContext } from './context.js';
import { BuildStepError, walkTree, type CopySource } from './copy-sources.js';

export interface CopyOptions {
  uid: number;
  gid: number;
  /** --chmod, applied to every copied file and directory. */
  chmod?: number;
  /** ADD: local tar archives are unpacked. */
  extractArchives: boolean;
}

/** mkdir -p inside `root`; directories it creates get `uid:gid` and 0755. */
function mkdirs(root: string, dir: string, uid: number, gid: number): string {
  let current = '/';
  for (const part of dir.split('/').filter(Boolean)) {
    current = path.posix.join(current, part);
    const host = secureJoin(root, current);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(host);
    } catch {
      /* create it */
    }
    if (st) {
      if (!st.isDirectory()) throw new BuildStepError(`mkdir ${current}: not a directory`);
      continue;
    }
    fs.mkdirSync(host, { mode: 0o755 });
    fs.chmodSync(host, 0o755);
    fs.lchownSync(host, uid, gid);
  }
  return secureJoin(root, dir);
}

function isDirIn(root: string, p: string): boolean {
  try {
    return fs.statSync(secureJoin(root, p)).isDirectory();
  } catch {
    return false;
  }
}

function copyEntry(srcHost: string, st: fs.Stats, dstHost: string, o: CopyOptions): void {
  if (st.isDirectory()) {
    let existing: fs.Stats | undefined;
    try {
      existing = fs.lstatSync(dstHost);
    } catch {
      /* new */
    }
    if (existing && !existing.isDirectory()) fs.rmSync(dstHost, { force: true });
    if (!existing || !existing.isDirectory()) fs.mkdirSync(dstHost);
    fs.chmodSync(dstHost, o.chmod ?? st.mode & 0o7777);
  } else if (st.isSymbolicLink()) {
    fs.rmSync(dstHost, { force: true, recursive: true });
    fs.symlinkSync(fs.readlinkSync(srcHost), dstHost);
  } else if (st.isFile()) {
    let existing: fs.Stats | undefined;
    try {
      existing = fs.lstatSync(dstHost);
    } catch {
      /* new */
    }
    if (existing?.isDirectory()) throw new BuildStepError(`cannot overwrite directory ${dstHost} with non-directory`);
    if (existing) fs.rmSync(dstHost, { force: true });
    fs.copyFileSync(srcHost, dstHost);
    fs.chmodSync(dstHost, o.chmod ?? st.mode & 0o7777);
  } else {
    return; // devices, sockets and fifos are not copied from a context
  }
  fs.lchownSync(dstHost, o.uid, o.gid);
  if (!st.isSymbolicLink()) fs.utimesSync(dstHost, st.atime, st.mtime);
}

function copyTree(src: CopySource, dstHost: string, o: CopyOptions): void {
  copyEntry(src.host, src.stat, dstHost, o);
  const dirs: [string, fs.Stats][] = [];
  for (const rel of walkTree(src.host)) {
    const sHost = path.join(src.host, rel);
    const st = fs.lstatSync(sHost);
    const dHost = path.join(dstHost, rel);
    copyEntry(sHost, st, dHost, o);
    if (st.isDirectory()) dirs.push([dHost, st]);
  }
  // Directory times last: writing into them changed them.
  for (const [d, st] of dirs.reverse()) fs.utimesSync(d, st.atime, st.mtime);
  fs.utimesSync(dstHost, src.stat.atime, src.stat.mtime);
}

/** gzip or plain tar, recognised by content as Docker's ADD does. */
function archiveKind(file: string): 'gzip' | 'tar' | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const n = fs.readSync(fd, buf, 0, 512, 0);
    if (n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (n >= 262 && buf.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

export async function copyIntoRoot(root: string, sources: CopySource[], dest: string, o: CopyOptions): Promise<void> {
  const destIsDir = dest.endsWith('/') || sources.length > 1;
  if (sources.length > 1 && !dest.endsWith('/')) {
    throw new BuildStepError(
      'When using COPY with more than one source file, the destination must be a directory and end with a /',
    );
  }
  for (const src of sources) {
    if (src.stat.isDirectory()) {
      const dstHost = mkdirs(root, dest, o.uid, o.gid);
      copyTree(src, dstHost, o);
      continue;
    }
    if (o.extractArchives && src.stat.isFile()) {
      const kind = archiveKind(src.host);
      if (kind) {
        const parent = mkdirs(root, path.posix.dirname(dest.replace(/\/+$/, '') || '/'), o.uid, o.gid);
        const staging = fs.mkdtempSync(path.join(parent, '.add-'));
        let extracted = false;
        try {
          // Docker's ADD keeps the archive's owners and modes; --chown does not reach inside.
          await extractContext(fs.createReadStream(src.host) as Readable, staging, undefined, true);
          extracted = true;
        } catch {
          // Not a tar after all (say, a gzip-compressed text file): copied as a file below.
        }
        try {
          if (extracted) mergeInto(staging, mkdirs(root, dest, o.uid, o.gid));
        } finally {
          fs.rmSync(staging, { recursive: true, force: true });
        }
        if (extracted) continue;
      }
    }
    const intoDir = destIsDir || isDirIn(root, dest);
    const target = intoDir ? path.posix.join(dest, path.posix.basename(src.rel)) : dest;
    mkdirs(root, path.posix.dirname(target), o.uid, o.gid);
    copyEntry(src.host, src.stat, secureJoin(root, target), o);
  }
}

/** Moves an unpacked archive's entries over `dst`, merging directories. */
function mergeInto(src: string, dst: string): void {
  for (const name of fs.readdirSync(src)) {
    const s = path.join(src, name);
    const d = path.join(dst, name);
    const st = fs.lstatSync(s);
    let existing: fs.Stats | undefined;
    try {
      existing = fs.lstatSync(d);
    } catch {
      /* new */
    }
    if (st.isDirectory() && existing?.isDirectory()) {
      mergeInto(s, d);
      fs.chmodSync(d, st.mode & 0o7777);
      fs.lchownSync(d, st.uid, st.gid);
      continue;
    }
    if (existing) fs.rmSync(d, { recursive: true, force: true });
    fs.renameSync(s, d);
  }
}
