// The worker side of applyLayerOffThread (apply-thread.ts): applies one layer at a time with the
// same confined writer as on the main thread (apply.ts), fed chunk by chunk by the main thread.
// Creating a file, writing it and setting its times are blocking syscalls; here they block this
// thread only, so the daemon keeps reading sockets, decompressing and hashing meanwhile.
//
// Messages in: { job: { dir, opts } } starts a layer; { chunk, len? } feeds it; { end }
// closes its input; { abort: message } fails it (a layer read from a file too). { job: { dir, opts, file } } starts a layer read
// from a file by this thread itself (a layer tar already on disk): no byte crosses the threads;
// with progress: true it reports { progress: bytes read } as it reads. Out: { ack: n } (n chunks
// taken: the main thread may send that many more), then { result } or { error } once the layer
// is settled, after which nothing of this thread touches the target any more.
//
// A fed plain tar (a load, a pull: decompressed on the main thread) is applied batch by batch
// by FedApply (fed-apply.ts), each batch in one synchronous call. A compressed one goes through
// applyLayer's streams, as does a layer read from a file.
//
// A chunk is the first `len` bytes of a SharedArrayBuffer, which a hashing thread may read at
// the same time (apply-thread.ts), and which the main thread fills again once it is acked: read
// in place when applied batch by batch, copied when a stream would keep it past its ack.
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { applyLayer } from './apply.js';
import { isPlainStart } from './compression.js';
import { FedApply } from './fed-apply.js';
import type { ApplyOptions } from './types.js';

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

type Incoming =
  | { job: { dir: string; opts: ApplyOptions; file?: string; progress?: boolean } }
  | { chunk: SharedArrayBuffer; len: number }
  | { end: true }
  | { abort: SerializedError };

const port = parentPort!;

class Feed extends Readable {
  /** Chunks taken while the stream was full: acknowledged when it asks for more. */
  owed = 0;
  override _read(): void {
    if (this.owed > 0) {
      port.postMessage({ ack: this.owed });
      this.owed = 0;
    }
  }
}

/** A layer file read in 1 MiB slabs, each reported as read when `progress` (one small message per MiB). */
function fileFeed(file: string, progress: boolean): Readable {
  const src = createReadStream(file, { highWaterMark: 1 << 20 });
  if (!progress) return src;
  let read = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _e, cb) {
      port.postMessage({ progress: (read += chunk.length) });
      cb(null, chunk);
    },
  });
  src.on('error', (err) => counted.destroy(err));
  counted.on('close', () => src.destroy());
  return src.pipe(counted);
}

export function serializeError(err: unknown): SerializedError {
  const e = err as Partial<SerializedError> & { name?: string; message?: string };
  const out: SerializedError = { name: e?.name ?? 'Error', message: e?.message ?? String(err) };
  for (const k of ['code', 'errno', 'syscall', 'path'] as const)
    if (e?.[k] !== undefined) (out as never)[k] = e[k] as never;
  return out;
}

let feed: Feed | null = null;
/** The layer's input, fed or read from a file: what an abort destroys. */
let input: Readable | null = null;

/**
 * A fed layer whose first batch has not arrived yet: that batch decides how it is applied
 * (plain tar: FedApply, batch by batch; compressed: applyLayer on a stream).
 */
let waiting: { dir: string; opts: ApplyOptions } | null = null;

type Batch = { chunk: SharedArrayBuffer; len: number };

/** The bytes of a batch, as a Buffer over its memory (no copy). */
function bytesOf(b: Batch): Buffer {
  return Buffer.from(b.chunk, 0, b.len);
}

/** Tells the main thread a batch is applied: it may fill it again. */
function ack(): void {
  port.postMessage({ ack: 1 });
}

/** A plain fed layer applied by FedApply: its batches wait here while a spill writes. */
let lean: {
  apply: FedApply;
  queue: Batch[];
  ended: boolean;
  busy: boolean;
  aborted: SerializedError | null;
} | null = null;

function startStream(dir: string, opts: ApplyOptions, f: Readable): void {
  feed = f instanceof Feed ? f : null;
  input = f;
  const settled = () => {
    if (input === f) input = null;
  };
  applyLayer(f, dir, opts).then(
    (result) => {
      settled();
      port.postMessage({ result });
    },
    (err: unknown) => {
      settled();
      f.destroy();
      port.postMessage({ error: serializeError(err) });
    },
  );
}

function startLean(dir: string, opts: ApplyOptions, first: Batch): void {
  let apply: FedApply;
  try {
    apply = new FedApply(dir, opts);
  } catch (err) {
    port.postMessage({ error: serializeError(err) });
    return;
  }
  lean = { apply, queue: [first], ended: false, busy: false, aborted: null };
  pump();
}

/** Fails the lean layer: everything closed before the error is reported. */
function failLean(err: unknown): void {
  const l = lean!;
  lean = null;
  l.apply.close();
  port.postMessage({ error: serializeError(err) });
}

/** Applies the queued batches in order, each acked once nothing here holds it. */
function pump(): void {
  const l = lean;
  if (!l || l.busy) return;
  if (l.aborted) return failLean(l.aborted);
  while (l.queue.length > 0) {
    const batch = l.queue.shift()!;
    let pending: Promise<void> | undefined;
    try {
      pending = l.apply.feed(bytesOf(batch));
    } catch (err) {
      return failLean(err);
    }
    if (pending) {
      l.busy = true;
      pending.then(
        () => {
          l.busy = false;
          ack();
          pump();
        },
        (err: unknown) => {
          l.busy = false;
          failLean(l.aborted ?? err);
        },
      );
      return;
    }
    ack();
  }
  if (l.ended) {
    l.busy = true;
    l.apply.finish().then(
      (result) => {
        lean = null;
        port.postMessage({ result });
      },
      (err: unknown) => {
        lean = null;
        port.postMessage({ error: serializeError(err) });
      },
    );
  }
}

port.on('message', (m: Incoming) => {
  if ('job' in m) {
    if (m.job.file !== undefined) startStream(m.job.dir, m.job.opts, fileFeed(m.job.file, !!m.job.progress));
    else waiting = { dir: m.job.dir, opts: m.job.opts };
    return;
  }
  if ('abort' in m) {
    // A fed layer's source failed, or the caller called the apply off (a file is read here).
    const err = Object.assign(new Error(m.abort.message), m.abort);
    if (waiting) {
      // Called off before its first batch: nothing was started, the layer fails as it is.
      waiting = null;
      port.postMessage({ error: m.abort });
      return;
    }
    if (lean) {
      lean.aborted = m.abort;
      pump();
    }
    input?.destroy(err);
    input = null;
    feed = null;
    return;
  }
  if (waiting) {
    const { dir, opts } = waiting;
    waiting = null;
    // Only a plain tar's batches are applied as they are; a compressed one is decompressed here
    // through a stream, and a stream too short to tell goes that way as well.
    if ('chunk' in m && isPlainStart(bytesOf(m))) {
      startLean(dir, opts, m);
      return;
    }
    startStream(dir, opts, new Feed({ highWaterMark: 1 << 20 }));
  }
  if (lean) {
    if ('chunk' in m) lean.queue.push(m);
    else if ('end' in m) lean.ended = true;
    pump();
    return;
  }
  const f = feed;
  if (!f) return;
  if ('chunk' in m) {
    if (f.destroyed) return;
    if (f.push(Buffer.copyBytesFrom(bytesOf(m)))) port.postMessage({ ack: 1 });
    else f.owed++;
  } else if ('end' in m) {
    f.push(null);
    feed = null;
  }
});
