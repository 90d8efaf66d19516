// Detects a stream's compression by its magic bytes and returns the stages that turn it into a
// plain tar. Decompression always runs in this process (or a host tool started by it), before
// anything touches the target directory: never with a tool found inside a container.
import { spawn } from 'node:child_process';
import { Duplex, finished, Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InvalidParameter } from '../errors.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'bzip2' | 'xz';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  return 'none';
}

/**
 * A fed layer's first batch says how it is applied: a plain tar batch by batch as it comes, any
 * other stream (compressed, or too short to tell) through a stream that decompresses it.
 */
export function isPlainStart(first: Buffer): boolean {
  return first.length >= 6 && detectCompression(first.subarray(0, 6)) === 'none';
}

/**
 * Reads at least `n` bytes (or up to the end) without consuming them. An input destroyed before
 * it ended (even before this was called, when its 'error' or 'close' has already been emitted)
 * fails it: 'readable' and 'end' alone would never come.
 */
export function peek(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let len = 0;
    let settled = false;
    let stopWatching = () => {};
    const detach = () => {
      settled = true;
      input.off('readable', onReadable);
      input.off('end', onEnd);
      stopWatching();
    };
    const finish = (ended: boolean) => {
      if (settled) return;
      detach();
      const head = Buffer.concat(chunks);
      if (ended) resolve({ head, stream: Readable.from(head.length ? [head] : []) });
      else {
        if (head.length) input.unshift(head);
        resolve({ head, stream: input });
      }
    };
    const onReadable = () => {
      let c: Buffer | null;
      while (len < n && (c = input.read() as Buffer | null) !== null) {
        const b = typeof c === 'string' ? Buffer.from(c) : c;
        chunks.push(b);
        len += b.length;
      }
      if (len >= n) finish(false);
    };
    const onEnd = () => finish(true);
    input.on('readable', onReadable);
    input.once('end', onEnd);
    // Its error (or a premature close) as finished() reports it, also for one already destroyed;
    // its callback without an error means the input has ended (here or before the call).
    stopWatching = finished(input, { writable: false }, (err) => {
      if (settled) return;
      if (!err) return finish(true);
      detach();
      reject(err);
    });
  });
}

type ZstdModule = { DecompressStream: new () => Duplex };
let zstdModule: Promise<ZstdModule | null> | undefined;

function loadZstd(): Promise<ZstdModule | null> {
  zstdModule ??= import('zstd-napi').then((m) => m as unknown as ZstdModule).catch(() => null);
  return zstdModule;
}

/** A host decompressor process as a Duplex (used where no in-process codec exists). */
function hostTool(cmd: string): Duplex {
  const child = spawn(cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const d = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on('close', (code) => {
    if (code !== 0) d.destroy(new InvalidParameter(`${cmd}: ${stderr.trim() || `exit status ${code}`}`));
  });
  return d;
}

/**
 * The bound on decompression (a "zip bomb"): a stream is refused once it has decompressed to
 * more than MAX_RATIO times the compressed bytes read AND more than RATIO_FLOOR bytes. Real
 * layers compress 2-10x; gzip cannot exceed ~1032x even on pure zeros, so only a stream that is
 * nearly all zeros past 1 GiB is refused (xz and zstd reach 10^5x and more on such input, a few
 * KiB claiming terabytes). The floor keeps small, very regular layers (an empty file tree,
 * a few zeroed files) loading as in Docker.
 */
export const MAX_RATIO = 1000;
export const RATIO_FLOOR = 1 << 30;

/** Wraps a decompressor with counters of the bytes going in and out, enforcing the bound above. */
function bounded(decompressor: Duplex, kind: Compression): Duplex[] {
  let inBytes = 0;
  let outBytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      inBytes += chunk.length;
      cb(null, chunk);
    },
  });
  const guard = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      outBytes += chunk.length;
      if (outBytes > RATIO_FLOOR && outBytes > MAX_RATIO * inBytes) {
        cb(
          new InvalidParameter(
            `invalid tar: ${kind} stream decompresses to more than ${MAX_RATIO} times its size (${outBytes} bytes from ${inBytes})`,
          ),
        );
      } else {
        cb(null, chunk);
      }
    },
  });
  return [counter, decompressor, guard];
}

/** Stages (possibly none) to pipe `input` through to get the uncompressed tar; `empty` when the input has no byte at all. */
export async function decompressStages(
  input: Readable,
): Promise<{ stream: Readable; stages: Duplex[]; compression: Compression; empty: boolean }> {
  const { head, stream } = await peek(input, 6);
  const compression = detectCompression(head);
  const empty = head.length === 0;
  switch (compression) {
    case 'none':
      return { stream, stages: [], compression, empty };
    case 'gzip':
      return { stream, stages: bounded(createGunzip({ chunkSize: 256 * 1024 }), compression), compression, empty };
    case 'zstd': {
      const z = await loadZstd();
      return {
        stream,
        stages: bounded(z ? new z.DecompressStream() : hostTool('zstd'), compression),
        compression,
        empty,
      };
    }
    case 'bzip2':
      return { stream, stages: bounded(hostTool('bzip2'), compression), compression, empty };
    case 'xz':
      return { stream, stages: bounded(hostTool('xz'), compression), compression, empty };
  }
}
