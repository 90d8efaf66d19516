// exportLayer: the layer tar of a snapshot's changes, as Docker's drivers produce it.
// overlay: the upper dir itself, with whiteout devices turned into .wh.NAME files and opaque
// directories followed by DIR/.wh..wh..opq (moby's overlay ConvertWrite).
// naive: the change list between the two full copies; deletions become .wh.NAME entries and
// every other change is archived as one entry (moby's ExportChanges).
import { closeSync } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import * as sys from '../native/syscalls.js';
import type { DiffSource } from './types.js';
import { isOpaque, isWhiteoutDevice, naiveChanges, openDir } from './changes.js';
import { headerFor, tarStream, type PackItem } from './pack.js';
import { isDir, walkDir } from './walk.js';
import { WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from './whiteout.js';

function whiteoutName(rel: string): string {
  const dir = posix.dirname(rel);
  const name = WHITEOUT_PREFIX + posix.basename(rel);
  return dir === '.' ? name : `${dir}/${name}`;
}

function* overlayItems(upper: string): Generator<PackItem> {
  const fd = openDir(upper);
  const seen = new Map<string, string>();
  try {
    for (const w of walkDir(fd)) {
      if (isWhiteoutDevice(w.st)) {
        const h = headerFor(w, w.rel, seen)?.header;
        yield {
          header: {
            ...h!,
            name: whiteoutName(w.rel),
            type: 'file',
            mode: 0o600,
            size: 0,
            linkname: undefined,
            devmajor: 0,
            devminor: 0,
            xattrs: [],
          },
        };
        continue;
      }
      const item = headerFor(w, w.rel, seen);
      if (!item) continue;
      yield item;
      if (isDir(w.st) && isOpaque(w.pfd, w.base)) {
        const h = item.header;
        yield {
          header: {
            name: `${w.rel}/${WHITEOUT_OPAQUE}`,
            type: 'file',
            mode: h.mode & 0o777,
            uid: h.uid,
            gid: h.gid,
            uname: h.uname,
            gname: h.gname,
            size: 0,
            mtime: 0,
          },
        };
      }
    }
  } finally {
    closeSync(fd);
  }
}

function* naiveItems(upper: string, lower?: string): Generator<PackItem> {
  const changes = naiveChanges(upper, lower).sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
  const fd = openDir(upper);
  const seen = new Map<string, string>();
  try {
    for (const change of changes) {
      const rel = change.Path.slice(1);
      if (change.Kind === 2) {
        yield {
          header: {
            name: whiteoutName(rel),
            type: 'file',
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: Math.floor(Date.now() / 1000),
          },
        };
        continue;
      }
      const dir = posix.dirname(rel);
      let pfd: number;
      try {
        pfd =
          dir === '.'
            ? -1
            : sys.openat2(
                fd,
                dir,
                sys.O_PATH | sys.O_DIRECTORY | sys.O_CLOEXEC,
                0,
                sys.RESOLVE_BENEATH | sys.RESOLVE_NO_SYMLINKS,
              );
      } catch {
        continue; // changed meanwhile; Docker logs and skips too
      }
      try {
        const base = posix.basename(rel);
        const parent = pfd === -1 ? fd : pfd;
        let st: sys.Statx;
        try {
          st = sys.statx(parent, base);
        } catch {
          continue;
        }
        const item = headerFor({ pfd: parent, base, st }, rel, seen);
        if (item) yield item;
      } finally {
        if (pfd !== -1) closeSync(pfd);
      }
    }
  } finally {
    closeSync(fd);
  }
}

export function exportLayer(src: DiffSource): Readable {
  return exportLayerSized(src).stream;
}

/**
 * exportLayer, and the layer's size as Docker reports it (DiffSize: st_size of everything but
 * directories, a hardlinked inode once, so symlinks count their target's length and whiteouts
 * nothing), summed from the headers as they go out: once the stream has ended, it is exactly
 * what measuring a snapshot made from this tar would find, without walking it again.
 */
export function exportLayerSized(src: DiffSource): { stream: Readable; diffSize: () => number } {
  let size = 0;
  function* counted(items: Iterable<PackItem>): Generator<PackItem> {
    for (const item of items) {
      const h = item.header;
      if (h.type === 'file') size += h.size;
      else if (h.type === 'symlink') size += Buffer.byteLength(h.linkname ?? '');
      yield item;
    }
  }
  const items = src.kind === 'overlay' ? overlayItems(src.upper) : naiveItems(src.upper, src.lower);
  return { stream: tarStream(counted(items)), diffSize: () => size };
}
