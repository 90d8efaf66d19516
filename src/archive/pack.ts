// Writing tars from directory trees: headers from statx, file data read through descriptors
// opened with O_NOFOLLOW from the walk's parent descriptor. The tar is an async generator turned
// into a byte stream, so reading pauses whenever the consumer is slow.
import { closeSync, read, readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as sys from '../native/syscalls.js';
import type { EntryType } from './entry.js';
import { groupName, userName } from './idnames.js';
import { encodeHeader, END_OF_ARCHIVE, tarPadding, type PackHeader } from './tarheader.js';
import { readXattrs, walkDir, type WalkEntry } from './walk.js';

const readAsync = promisify(read);
const CHUNK = 1 << 20;
/** Bytes of tar handed downstream at a time when entries are small. */
const SLAB = 1 << 20;
/** Files up to this size (with their padding) are read synchronously into the slab. */
const SMALL = 64 << 10;

export interface PackItem {
  header: PackHeader;
  /** Where a regular file's data is read from. */
  source?: { pfd: number; base: string };
}

export function entryType(mode: number): EntryType | null {
  switch (mode & sys.S_IFMT) {
    case sys.S_IFREG:
      return 'file';
    case sys.S_IFDIR:
      return 'directory';
    case sys.S_IFLNK:
      return 'symlink';
    case sys.S_IFCHR:
      return 'character-device';
    case sys.S_IFBLK:
      return 'block-device';
    case sys.S_IFIFO:
      return 'fifo';
    default:
      return null; // sockets are not archived (Go's FileInfoHeader refuses them)
  }
}

/** Attributes a tar never carries: overlayfs's own bookkeeping. */
export function exportableXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.');
}

/**
 * Builds the header for a walked entry, as Docker's addTarFile does: hardlinks after the first
 * name of an inode become link entries (`seen` maps dev:ino to that first name).
 */
export function headerFor(
  w: Pick<WalkEntry, 'pfd' | 'base' | 'st'>,
  name: string,
  seen: Map<string, string>,
): PackItem | null {
  const type = entryType(w.st.mode);
  if (type === null) return null;
  const header: PackHeader = {
    name,
    type,
    mode: w.st.mode,
    uid: w.st.uid,
    gid: w.st.gid,
    uname: userName(w.st.uid),
    gname: groupName(w.st.gid),
    size: type === 'file' ? w.st.size : 0,
    mtime: w.st.mtime.sec,
    devmajor: type === 'character-device' || type === 'block-device' ? w.st.rdevMajor : 0,
    devminor: type === 'character-device' || type === 'block-device' ? w.st.rdevMinor : 0,
    xattrs: readXattrs(w.pfd, w.base, exportableXattr),
  };
  if (type === 'symlink') header.linkname = sys.readlinkat(w.pfd, w.base);
  if (type !== 'directory' && w.st.nlink > 1) {
    const key = `${w.st.devMajor}:${w.st.devMinor}:${w.st.ino}`;
    const first = seen.get(key);
    if (first !== undefined) {
      header.type = 'link';
      header.linkname = first;
      header.size = 0;
      return { header };
    }
    seen.set(key, name);
  }
  return header.type === 'file' && header.size > 0 ? { header, source: { pfd: w.pfd, base: w.base } } : { header };
}

async function* fileData(source: { pfd: number; base: string }, size: number): AsyncGenerator<Buffer> {
  let fd: number;
  try {
    fd = sys.openat(source.pfd, source.base, sys.O_RDONLY | sys.O_NOFOLLOW | sys.O_CLOEXEC);
  } catch {
    fd = -1; // vanished since the walk saw it: keep the archive well-formed with zeros
  }
  let done = 0;
  try {
    while (fd >= 0 && done < size) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - done));
      const { bytesRead } = await readAsync(fd, buf, 0, buf.length, done);
      if (bytesRead === 0) break; // shrank meanwhile
      done += bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  while (done < size) {
    const n = Math.min(CHUNK, size - done);
    done += n;
    yield Buffer.alloc(n);
  }
}

/**
 * Reads a small file's data (`size` bytes, then its tar padding) straight into `slab` at `at`
 * with synchronous reads: one read of a few KiB costs less than the thread pool round trip an
 * asynchronous one pays, and a walk already stats and lists each entry synchronously. A file
 * that vanished or shrank since the walk is padded with zeros, as fileData does.
 */
function readSmall(source: { pfd: number; base: string }, size: number, slab: Buffer, at: number): void {
  const end = at + size + tarPadding(size);
  let done = 0;
  let fd: number;
  try {
    fd = sys.openat(source.pfd, source.base, sys.O_RDONLY | sys.O_NOFOLLOW | sys.O_CLOEXEC);
  } catch {
    fd = -1; // vanished since the walk saw it: zeros keep the archive well-formed
  }
  try {
    while (fd >= 0 && done < size) {
      const n = readSync(fd, slab, at + done, size - done, done);
      if (n === 0) break; // shrank meanwhile
      done += n;
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  slab.fill(0, at + done, end);
}

/**
 * The tar bytes of `items`, closed with the two zero blocks, in slabs of about SLAB bytes:
 * headers and small files are packed together, so a tar of many small files is a few large
 * chunks rather than three per file for every stage downstream to handle one by one.
 */
export async function* tarBytes(items: Iterable<PackItem> | AsyncIterable<PackItem>): AsyncGenerator<Buffer> {
  let slab = Buffer.allocUnsafe(SLAB);
  let used = 0;
  const room = (n: number) => SLAB - used >= n;
  const take = () => {
    const out = slab.subarray(0, used);
    slab = Buffer.allocUnsafe(SLAB);
    used = 0;
    return out;
  };
  for await (const item of items) {
    const header = encodeHeader(item.header);
    if (!room(header.length) && used > 0) yield take();
    if (header.length > SLAB) yield header;
    else used += header.copy(slab, used);
    const size = item.source ? item.header.size : 0;
    if (size === 0) continue;
    const padded = size + tarPadding(size);
    if (padded <= SMALL) {
      if (!room(padded)) yield take();
      readSmall(item.source!, size, slab, used);
      used += padded;
      continue;
    }
    if (used > 0) yield take();
    yield* fileData(item.source!, size);
    const pad = tarPadding(size);
    if (pad) yield Buffer.alloc(pad);
  }
  if (!room(END_OF_ARCHIVE.length)) yield take();
  used += END_OF_ARCHIVE.copy(slab, used);
  yield take();
}

export function tarStream(items: Iterable<PackItem> | AsyncIterable<PackItem>): Readable {
  return Readable.from(tarBytes(items), { objectMode: false, highWaterMark: 1 << 20 });
}

/** Every entry below directory `fd` (not the directory itself), names under `prefix`. */
export function* treeItems(fd: number, prefix = ''): Generator<PackItem> {
  const seen = new Map<string, string>();
  for (const w of walkDir(fd, prefix)) {
    const item = headerFor(w, w.rel, seen);
    if (item) yield item;
  }
}
