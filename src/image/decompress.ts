// Layer tars arrive plain, gzip- or zstd-compressed (Docker detects by magic bytes, not by
// media type); the store keeps and hashes the uncompressed bytes, which is what diffIDs name.
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { InvalidParameter } from '../errors.js';

const require = createRequire(import.meta.url);

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

function decompressor(kind: Compression): Transform | undefined {
  switch (kind) {
    case 'gzip':
      return zlib.createGunzip({ chunkSize: 1 << 16 });
    case 'zstd': {
      const { DecompressStream } = require('zstd-napi') as { DecompressStream: new () => Transform };
      return new DecompressStream();
    }
    case 'none':
      return undefined;
    default:
      throw new InvalidParameter(`unsupported layer compression: ${kind}`);
  }
}

/**
 * The uncompressed bytes of `input` as they come, whatever its compression, for a caller that
 * iterates them. A plain stream's own chunks are handed over with nothing in between: a layer
 * arrives in some 16k chunks per GiB, and each stream or generator they would pass through costs
 * every one of them a promise or two, a good part of the main thread's work in a load.
 */
export async function* decompressedChunks(input: Readable): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const buffered: Buffer[] = [];
  let head = Buffer.alloc(0);
  let done = false;
  try {
    while (head.length < 6) {
      const r = await it.next();
      if (r.done) {
        done = true;
        break;
      }
      buffered.push(r.value);
      head = Buffer.concat([head, r.value]);
    }
    const d = decompressor(detectCompression(head));
    async function* rest(): AsyncGenerator<Buffer> {
      yield* buffered;
      while (!done) {
        const r = await it.next();
        if (r.done) done = true;
        else yield r.value;
      }
    }
    if (!d) {
      yield* rest();
      return;
    }
    const src = Readable.from(rest(), { objectMode: false });
    const piped = pipeline(src, d);
    piped.catch(() => {}); // its failure ends the iteration of `d` below with the error
    yield* d as AsyncIterable<Buffer>;
    await piped;
  } finally {
    // Ended early (the caller stopped, or a failure): the input is of no more use.
    if (!done) input.destroy();
  }
}

/** The uncompressed bytes of `input`, whatever its compression, as a stream. */
export function decompressStream(input: Readable): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  pipeline(Readable.from(decompressedChunks(input), { objectMode: false }), out).catch((err: Error) => {
    input.destroy();
    out.destroy(err);
  });
  return out;
}
