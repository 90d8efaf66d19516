// applyLayer on a worker thread. Unpacking a layer makes several blocking syscalls per entry
// (openat2, openat with O_CREAT, write, futimens...); a create alone can wait milliseconds on a
// busy journal. On the main thread every such wait also stalls the sockets a pull reads from,
// the decompressor's callbacks and every other request; on a worker it stalls only that layer,
// and several layers can unpack at once. The worker runs the very same confined writer
// (apply.ts), so every confinement rule holds unchanged.
//
// The main thread hands the worker the stream's bytes in batches of up to BATCH bytes (a
// socket's chunks are small, and a message per chunk costs more than copying them into a
// batch), at most MAX_IN_FLIGHT unacknowledged at a time, so memory stays bounded and a slow
// disk slows the source down. A batch is a SharedArrayBuffer: the worker reads it in place, and
// once it has acknowledged it (and the hashing thread, if any, has hashed it) it is filled
// again. A failure on either side settles the call only once the worker has stopped touching
// the target: the caller may remove the directory right after.
//
// A plain tar to be hashed is hashed beside the unpacking, on a thread of its own (HashThread),
// reading the same batches: on the thread that reads the socket the half second of sha256 per
// GiB slows the feed, on the unpacking thread it slows the unpacking.
//
// Workers are kept for a moment after a layer, since a pull or load applies several in a row.
import { finished, type Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import * as errors from '../errors.js';
import type { ApplyOptions, ApplyResult } from './types.js';
import type { SerializedError } from './apply-worker.js';
import { memoryReleaser } from '../util/release-memory.js';
import { isPlainStart } from './compression.js';
import { HashThread } from './digest.js';
import { IdleThreads } from './idle-threads.js';

const WORKER_URL = new URL('./apply-worker.js', import.meta.url);
const BATCH = 1 << 20;
const MAX_IN_FLIGHT = 4;
const MAX_IDLE = 2;
const IDLE_MS = 2000;

// Descriptors come from openat/openat2 through koffi as well as from node:fs: the worker closes
// each itself, so Node need not track (and warn about) which API opened which.
const workers = new IdleThreads(() => new Worker(WORKER_URL, { trackUnmanagedFds: false }), MAX_IDLE, IDLE_MS);

/**
 * Ends the idle workers now. Each holds a heap of its own (its modules, the writer's buffers)
 * that goes back to the system only once the thread has stopped; ended after the daemon's
 * memory release, the thread's freed pages would wait in glibc's arenas for the next one.
 */
export function endIdleWorkers(): Promise<unknown> {
  return workers.endAll();
}

// The daemon releases memory only when nothing runs, so no pull is about to take these.
memoryReleaser.onRelease(endIdleWorkers);

/**
 * Starts a worker for an apply about to come, unless one is idle: a new thread loads its
 * modules (koffi, the writer, the tar reader) for a few hundred milliseconds, which an
 * operation that waits for something else first can spend meanwhile. Kept for `keepMs`.
 */
export function warmApplyWorker(keepMs: number): void {
  if (workers.size > 0) return;
  workers.keep(workers.take(), keepMs);
}

/** The error the worker reported, as the kind it was (an InvalidParameter stays one) with its errno fields. */
function revive(e: SerializedError): Error {
  const Kind = (errors as unknown as Record<string, unknown>)[e.name];
  const isKind =
    typeof Kind === 'function' && (Kind === errors.StrataError || Kind.prototype instanceof errors.StrataError);
  const err = isKind ? new (Kind as new (m: string) => Error)(e.message) : new Error(e.message);
  if (!isKind) err.name = e.name;
  for (const k of ['code', 'errno', 'syscall', 'path'] as const)
    if (e[k] !== undefined) (err as never)[k] = e[k] as never;
  return err;
}

/**
 * applyLayer (apply.ts) with the unpacking on a worker thread; same arguments, result and errors.
 * `input` may also name a file, which the worker then reads itself: a layer tar already on disk
 * costs the main thread no read, copy or message per batch (`onProgress` hears the bytes read).
 */
export function applyLayerOffThread(
  input: Readable | { file: string; signal?: AbortSignal },
  dir: string,
  opts: ApplyOptions,
  onProgress?: (bytesRead: number) => void,
): Promise<ApplyResult> {
  // A source already done with (destroyed, failed or ended before this call: an apply reached
  // after an await) has emitted all it will: its 'end' and 'error' will never come.
  if ('pipe' in input && (input.destroyed || input.errored || input.readableEnded))
    return Promise.reject(input.errored ?? prematureClose());
  const worker = workers.take();
  if (!('pipe' in input)) {
    return new Promise<ApplyResult>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void, reuse: boolean) => {
        if (settled) return;
        settled = true;
        worker.off('message', onMessage);
        worker.off('error', onWorkerError);
        worker.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
        if (reuse) workers.keep(worker);
        else void worker.terminate();
        fn();
      };
      const onWorkerError = (err: Error) => finish(() => reject(err), false);
      const onExit = (code: number) =>
        finish(() => reject(new errors.SystemError(`layer apply worker exited (${code})`)), false);
      // Called off: the worker stops reading, and the apply settles once it stopped writing.
      const signal = input.signal;
      let abortErr: unknown;
      const onAbort = () => {
        abortErr = signal!.reason;
        worker.postMessage({ abort: { name: 'AbortError', message: 'the layer apply was called off' } });
      };
      const onMessage = (m: { progress?: number; result?: ApplyResult; error?: SerializedError }) => {
        if (m.progress !== undefined) onProgress?.(m.progress);
        else if (m.result !== undefined) {
          const result = m.result;
          finish(() => (abortErr === undefined ? resolve(result) : reject(abortErr)), true);
        } else if (m.error !== undefined) {
          const err = abortErr ?? revive(m.error);
          finish(() => reject(err), true);
        }
      };
      worker.on('message', onMessage);
      worker.once('error', onWorkerError);
      worker.once('exit', onExit);
      worker.postMessage({ job: { dir, opts, file: input.file, progress: !!onProgress } });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  return new Promise<ApplyResult>((resolve, reject) => {
    let inputDone = false;
    let inputError: unknown = null;
    let settled = false;
    // Hashed beside the unpacking unless the caller hashes, or the worker does as it stages the
    // bytes (whether it is a plain tar is known once the first batch is full).
    const beside = opts.digest !== false && opts.stageTo === undefined;
    let hasher: HashThread | undefined;
    let jobSent = false;

    const finish = (fn: () => void, reuse: boolean) => {
      if (settled) return;
      settled = true;
      worker.off('message', onMessage);
      worker.off('error', onWorkerError);
      worker.off('exit', onExit);
      input.off('data', onData);
      input.off('end', onEnd);
      stopWatching();
      hasher?.dispose();
      input.on('error', () => {}); // a late failure upstream has no one left to tell
      if (!inputDone) input.destroy();
      if (reuse) workers.keep(worker);
      else void worker.terminate();
      fn();
    };
    // Batches done with: filled again instead of allocating (and page-faulting in) a fresh MiB
    // per batch.
    const spare: Buffer[] = [];
    // Batches sent, oldest first, until both threads are done with them: those in flight.
    const out: Buffer[] = [];
    let applied = 0;
    let hashed = 0;
    let released = 0;
    const release = () => {
      const done = hasher ? Math.min(applied, hashed) : applied;
      for (; released < done; released++) {
        const b = out.shift()!;
        if (b.length === BATCH && spare.length < MAX_IN_FLIGHT) spare.push(b);
      }
      if (out.length < MAX_IN_FLIGHT && !inputDone) input.resume();
    };
    /**
     * The layer's job, sent with its first batch, which tells whether it is a plain tar. A stream
     * that ends before a batch is full is hashed by the worker: a thread started for a few
     * hundred KiB would cost more than the hashing it takes over. So is what the worker
     * decompresses.
     */
    const startJob = (first?: Buffer) => {
      if (jobSent) return;
      jobSent = true;
      if (beside && first !== undefined && first.length >= BATCH && isPlainStart(first)) {
        hasher = new HashThread(() => {
          hashed++;
          release();
        });
        hasher.failed().catch((err: unknown) => onInputError(err));
      }
      worker.postMessage({ job: { dir, opts: hasher ? { ...opts, digest: false } : opts } });
    };
    const settle = (result: ApplyResult) => {
      if (inputError || !hasher) {
        finish(() => (inputError ? reject(inputError) : resolve(result)), true);
        return;
      }
      const tarSize = hasher.size;
      hasher.digest().then(
        (diffID) => finish(() => resolve({ ...result, diffID, tarSize }), true),
        (err: unknown) => finish(() => reject(err), true),
      );
    };
    const onMessage = (m: { ack?: number; result?: ApplyResult; error?: SerializedError }) => {
      if (m.ack !== undefined) {
        applied += m.ack;
        release();
      } else if (m.result !== undefined) {
        settle(m.result);
      } else if (m.error !== undefined) {
        // The source's own failure (a blob that fails verification) is the one to report.
        const err = inputError ?? revive(m.error);
        finish(() => reject(err), true);
      }
    };
    const onWorkerError = (err: Error) => finish(() => reject(inputError ?? err), false);
    const onExit = (code: number) =>
      finish(() => reject(inputError ?? new errors.SystemError(`layer apply worker exited (${code})`)), false);
    let batch: Buffer | null = null;
    let used = 0;
    const flush = () => {
      if (!batch || used === 0) return;
      startJob(batch.subarray(0, used));
      const memory = batch.buffer as SharedArrayBuffer;
      worker.postMessage({ chunk: memory, len: used });
      hasher?.post(memory, used);
      out.push(batch);
      batch = null;
      used = 0;
      if (out.length >= MAX_IN_FLIGHT) input.pause();
    };
    const onData = (chunk: Buffer) => {
      let off = 0;
      while (off < chunk.length) {
        // Holds only bytes just copied in; its own memory (never Buffer's pool), so it can be shared.
        if (!batch) {
          batch =
            chunk.length - off <= BATCH && spare.length > 0
              ? spare.pop()!
              : Buffer.from(new SharedArrayBuffer(Math.max(BATCH, chunk.length - off)));
        }
        const n = Math.min(batch.length - used, chunk.length - off);
        batch.set(chunk.subarray(off, off + n), used);
        used += n;
        off += n;
        if (used === batch.length) flush();
      }
    };
    const onEnd = () => {
      inputDone = true;
      flush();
      startJob();
      worker.postMessage({ end: true });
    };
    const onInputError = (err: unknown) => {
      if (inputDone) return;
      inputDone = true;
      inputError = err;
      const e = err as Partial<SerializedError>;
      startJob();
      worker.postMessage({
        abort: { name: e?.name ?? 'Error', message: e?.message ?? String(err), code: e?.code },
      });
    };

    worker.on('message', onMessage);
    worker.once('error', onWorkerError);
    worker.once('exit', onExit);
    input.on('data', onData);
    input.once('end', onEnd);
    // The source's failure, and its close before its end (destroyed without an error: a load or
    // pull called off), which emits neither 'end' nor 'error'.
    const stopWatching = finished(input, { writable: false }, (err) => onInputError(err ?? prematureClose()));
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}
