// Writing tars from directory trees: headers from statx, file data read through descriptors
// opened with O_NOFOLLOW from the walk's parent descriptor. The tar is an async generator turned
// into a byte stream, so reading pauses whenever the consumer is slow.
import { closeSync, read } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as sys from '../native/syscalls.js';
import type { EntryType } from './entry.js';
import { groupName, userName } from './idnames.js';
import { encodeHeader, END_OF_ARCHIVE, tarPadding, type PackHeader } from './tarheader.js';
import { readXattrs, walkDir, type WalkEntry } from './walk.js';

const readAsync = promisify(read);
const CHUNK = 1 << 20;

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

/** The tar bytes of `items`, closed with the two zero blocks. */
export async function* tarBytes(items: Iterable<PackItem> | AsyncIterable<PackItem>): AsyncGenerator<Buffer> {
  for await (const item of items) {
    yield encodeHeader(item.header);
    if (item.source && item.header.size > 0) {
      yield* fileData(item.source, item.header.size);
      const pad = tarPadding(item.header.size);
      if (pad) yield Buffer.alloc(pad);
    }
  }
  yield END_OF_ARCHIVE;
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
