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

/**
 * Hands `onChunk` the uncompressed bytes of `input` as they come, whatever its compression, and
 * settles once they end, or with the first failure (the input's, the decompressor's, or one
 * `onChunk` throws or returns). Where `onChunk` returns a promise, the input waits for it before
 * the next chunk. The same as iterating decompressedChunks, without a promise or two per chunk
 * where the consumer has nothing to wait for: a plain layer's chunks go from the input's 'data'
 * events straight to `onChunk`.
 */
export function eachDecompressedChunk(
  input: Readable,
  onChunk: (chunk: Buffer) => void | Promise<void>,
): Promise<void> {
  if (input.destroyed || input.errored) {
    // Destroyed or failed before it was read (an archive cut off before this file's bytes were
    // wanted): no event will come, but its iterator gives its error (a premature close for one
    // destroyed without an error).
    return (async () => {
      for await (const chunk of decompressedChunks(input)) await onChunk(chunk);
    })();
  }
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let ended = false;
    // The first bytes, until there are enough to tell the compression by.
    let head: Buffer[] | undefined = [];
    let headSize = 0;
    let d: Transform | undefined;
    // The consumer's work still to finish: chunks after it wait their turn.
    let busy: Promise<void> | undefined;

    const finish = (err?: unknown) => {
      if (settled) return;
      settled = true;
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', fail);
      input.off('close', onClose);
      if (err === undefined) return resolve();
      // Ended early: the input (and what it was feeding) is of no more use.
      input.on('error', () => {});
      input.destroy();
      d?.on('error', () => {});
      d?.destroy();
      reject(err);
    };
    const fail = (err: unknown) => finish(err ?? new Error('layer stream failed'));
    const afterBusy = (then: () => void) => {
      if (busy) busy.then(then, fail);
      else then();
    };
    const deliver = (chunk: Buffer, from: Readable) => {
      if (settled) return;
      if (busy === undefined) {
        let wait: void | Promise<void>;
        try {
          wait = onChunk(chunk);
        } catch (err) {
          return fail(err);
        }
        if (!wait) return;
        busy = wait;
      } else busy = busy.then(() => onChunk(chunk));
      from.pause();
      const mine = busy;
      mine.then(() => {
        if (busy !== mine) return;
        busy = undefined;
        if (!settled) from.resume();
      }, fail);
    };
    const decide = () => {
      const chunks = head!;
      head = undefined;
      let kind: Compression;
      try {
        kind = detectCompression(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
        d = decompressor(kind);
      } catch (err) {
        return fail(err);
      }
      if (!d) {
        for (const c of chunks) deliver(c, input);
        return;
      }
      const out = d;
      out.on('data', (c: Buffer) => deliver(c, out));
      out.once('error', fail);
      out.once('end', () => afterBusy(() => finish()));
      for (const c of chunks) toDecompressor(c);
    };
    const toDecompressor = (c: Buffer) => {
      if (d!.write(c) || ended) return;
      input.pause();
      d!.once('drain', () => {
        if (!settled) input.resume();
      });
    };
    const onData = (c: Buffer) => {
      // An empty chunk (an object-mode source may send one) is nothing, and zstd's stream fails on it.
      if (c.length === 0) return;
      if (head) {
        head.push(c);
        headSize += c.length;
        if (headSize >= 6) decide();
      } else if (d) toDecompressor(c);
      else deliver(c, input);
    };
    const onEnd = () => {
      ended = true;
      if (head) decide();
      if (settled) return;
      if (d) d.end();
      else afterBusy(() => finish());
    };
    const onClose = () => {
      if (!ended) fail(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', fail);
    input.once('close', onClose);
  });
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
