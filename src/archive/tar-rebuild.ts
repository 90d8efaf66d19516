// Gives back a layer's original tar from its tar-split record (tar-split.ts) and its files: the
// record's raw blocks as they are, each regular file's content read from the layer's directory.
// Files are opened through the directory's fd, beneath it and never through a symlink at the
// last step (the way the applier created them), so whatever the directory holds, nothing outside
// it is read. The bytes are hashed as they go out; if they do not hash to the diffID the stream
// fails at its end, and a file of another size fails it at once: a damaged layer is never
// handed on as if it were the one its diffID names (moby's verified reader does the same).
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { StrataError } from '../errors.js';
import * as sys from '../native/syscalls.js';
import { RECORD_MAGIC } from './tar-split.js';

const CHUNK = 1 << 20;

/** The layer does not give back the bytes its diffID names: its files were changed or damaged. */
export class LayerMismatch extends StrataError {}

type Item = { raw: Buffer } | { path: string; size: number };

function* items(record: Buffer): Generator<Item> {
  const buf = gunzipSync(record);
  if (!buf.subarray(0, RECORD_MAGIC.length).equals(RECORD_MAGIC)) throw new StrataError('not a tar-split record');
  let off = RECORD_MAGIC.length;
  while (off < buf.length) {
    const kind = buf[off]!;
    if (kind === 0x52) {
      const len = buf.readUInt32BE(off + 1);
      yield { raw: buf.subarray(off + 5, off + 5 + len) };
      off += 5 + len;
    } else if (kind === 0x46) {
      const plen = buf.readUInt16BE(off + 1);
      const path = buf.toString('utf8', off + 3, off + 3 + plen);
      const size = buf.readUInt32BE(off + 3 + plen) * 2 ** 32 + buf.readUInt32BE(off + 7 + plen);
      yield { path, size };
      off += 11 + plen;
    } else throw new StrataError('damaged tar-split record');
  }
}

type Mismatch = (why: string) => LayerMismatch;

function mismatchOf(diffID: string, what: string): Mismatch {
  return (why) =>
    new LayerMismatch(
      `layer ${what === diffID ? '' : `${what} `}does not match its diffID ${diffID} (${why}): its files in the layer store were modified; pulling or loading the image again may resolve the issue`,
    );
}

/** Opens a file the record names, beneath `root`, failing as a mismatch unless it is the regular file of its size. */
function openItem(root: number, item: { path: string; size: number }, mismatch: Mismatch): number {
  let fd: number;
  try {
    fd = sys.openat2(
      root,
      item.path,
      sys.O_RDONLY | sys.O_NOFOLLOW | sys.O_CLOEXEC,
      0,
      sys.RESOLVE_BENEATH | sys.RESOLVE_NO_MAGICLINKS,
    );
  } catch (err) {
    throw mismatch(`${item.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size !== item.size)
      throw mismatch(`${item.path} holds ${st.isFile() ? `${st.size} bytes, not ${item.size}` : 'no regular file'}`);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

function openRoot(dir: string): number {
  return sys.openat2(sys.AT_FDCWD, dir, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC, 0, 0);
}

async function* rebuild(record: Buffer, dir: string, diffID: string, what: string): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const b of pieces(record, dir, mismatchOf(diffID, what))) {
    hash.update(b);
    yield b;
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== diffID) throw mismatchOf(diffID, what)(`its files give ${got}`);
}

/** The bytes the record gives back from the files in `dir`, unverified. */
async function* pieces(record: Buffer, dir: string, mismatch: Mismatch): AsyncGenerator<Buffer> {
  const root = openRoot(dir);
  try {
    for (const item of items(record)) {
      if ('raw' in item) {
        yield Buffer.from(item.raw);
        continue;
      }
      const fd = openItem(root, item, mismatch);
      try {
        for (let pos = 0; pos < item.size;) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, item.size - pos));
          const n = await new Promise<number>((resolve, reject) =>
            fs.read(fd, buf, 0, buf.length, pos, (err, got) => (err ? reject(err) : resolve(got))),
          );
          if (n === 0) throw mismatch(`${item.path} ended early`);
          pos += n;
          yield n === buf.length ? buf : buf.subarray(0, n);
        }
      } finally {
        fs.closeSync(fd);
      }
    }
  } finally {
    fs.closeSync(root);
  }
}

/**
 * The first bytes of a tar still arriving, from the record of those bytes (tar-split.ts,
 * SpillSink) and the files written from them in `dir`; fails unless they are `length` bytes.
 * Nothing checks their digest here: the whole stream's is checked once it is complete.
 */
export async function* rebuildPrefix(record: Buffer, dir: string, length: number): AsyncGenerator<Buffer> {
  let got = 0;
  for await (const b of pieces(
    record,
    dir,
    (why) => new LayerMismatch(`the layer's first bytes cannot be given back (${why})`),
  )) {
    got += b.length;
    yield b;
  }
  if (got !== length) throw new LayerMismatch(`the layer's first ${length} bytes gave back ${got}`);
}

/**
 * The original tar of the layer `diffID` (`what` names it in errors), from its record and the
 * directory holding its files; fails with LayerMismatch where they no longer give that tar.
 */
export function rebuildLayer(record: Buffer, dir: string, diffID: string, what = diffID): Readable {
  return Readable.from(rebuild(record, dir, diffID, what), { objectMode: false, highWaterMark: CHUNK });
}

/**
 * Checks, without reading any content, that `dir` still holds every file the record names, as a
 * regular file of the size it had: what a save can find out before its first byte goes out (a
 * file rewritten in place at the same size shows only in the digest, once the tar has been sent).
 */
export function checkLayerFiles(record: Buffer, dir: string, diffID: string, what = diffID): void {
  const mismatch = mismatchOf(diffID, what);
  const root = openRoot(dir);
  try {
    for (const item of items(record)) if (!('raw' in item)) fs.closeSync(openItem(root, item, mismatch));
  } finally {
    fs.closeSync(root);
  }
}
