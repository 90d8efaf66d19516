// sha256 on a thread of its own. A 1 GiB layer costs about half a second of hashing; on the
// thread that reads the bytes (the main one) or unpacks them, it would be serialised with that
// work, on a thread of its own it runs beside it.
//
// HashThread hashes buffers posted to it, in order, and tells when each is hashed so its memory
// can be used again: an ArrayBuffer travels there and back (transferred, never cloned), a
// SharedArrayBuffer is read in place (the unpacking thread reads the same batch meanwhile).
// Digester is a pass-through stage built on it for streams.
//
// A thread takes about 60 ms to start, during which the batches it must hash wait: a load or
// pull of many layers would pay that per layer. A thread whose digest was taken is kept idle for
// a moment (IdleThreads; its hash starts afresh), as the unpacking threads are.
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { memoryReleaser } from '../util/release-memory.js';
import { IdleThreads } from './idle-threads.js';

const SLOT = 1 << 20;
const POOL = 8;
const MAX_IDLE = 2;
const IDLE_MS = 2000;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m === null) {
    parentPort.postMessage({ digest: hash.digest('hex') });
    hash = createHash('sha256');
    return;
  }
  hash.update(new Uint8Array(m.buf, 0, m.len));
  if (m.buf instanceof ArrayBuffer) parentPort.postMessage({ buf: m.buf }, [m.buf]);
  else parentPort.postMessage({ buf: null });
});
`;

const threads = new IdleThreads(() => new Worker(WORKER_SOURCE, { eval: true }), MAX_IDLE, IDLE_MS);

/** Ends the idle hashing threads now (their heaps go back to the system once they have stopped). */
export function endIdleHashThreads(): Promise<unknown> {
  return threads.endAll();
}

// The daemon releases memory only when nothing runs, so no layer is about to take these.
memoryReleaser.onRelease(endIdleHashThreads);

export class HashThread {
  private readonly worker = threads.take();
  private readonly result: Promise<string>;
  private disposed = false;
  /** Bytes posted so far. */
  size = 0;

  /** `hashed` hears of each buffer once hashed, in the order posted (an ArrayBuffer comes back; a shared one, null). */
  constructor(hashed: (buf: ArrayBuffer | null) => void) {
    const { worker } = this;
    this.result = new Promise((resolve, reject) => {
      const onMessage = (m: { buf?: ArrayBuffer | null; digest?: string }) => {
        if (m.digest === undefined) {
          hashed(m.buf ?? null);
          return;
        }
        worker.off('message', onMessage);
        worker.off('error', reject);
        worker.off('exit', onExit);
        resolve(m.digest);
      };
      const onExit = (code: number) => {
        if (!this.disposed) reject(new Error(`hashing thread exited (${code})`));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', onExit);
    });
    this.result.catch(() => {}); // surfaced by digest() and failed()
  }

  /** Hashes the first `len` bytes of `buf` next; an ArrayBuffer is transferred until hashed. */
  post(buf: ArrayBuffer | SharedArrayBuffer, len: number): void {
    this.size += len;
    if (buf instanceof ArrayBuffer) this.worker.postMessage({ buf, len }, [buf]);
    else this.worker.postMessage({ buf, len });
  }

  /** Rejects with the thread's failure, if it fails before its digest. */
  failed(): Promise<never> {
    return this.result.then(() => new Promise<never>(() => {}));
  }

  /** "sha256:<hex>" of everything posted; the thread is then kept idle for the next one, or ends. */
  async digest(): Promise<string> {
    this.worker.postMessage(null);
    let hex: string;
    try {
      hex = await this.result;
    } catch (err) {
      this.dispose();
      throw err;
    }
    // Everything posted has been hashed and answered (messages arrive in order): none in flight.
    if (!this.disposed) {
      this.disposed = true;
      threads.keep(this.worker);
    }
    return `sha256:${hex}`;
  }

  /** Ends the thread (a layer given up: what it still holds is dropped with it). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.worker.terminate();
  }
}

/**
 * A pass-through stage that hashes every byte on a HashThread. Chunks are copied into a small
 * pool of buffers that travel to the thread and back, so hashing adds no garbage and at most
 * POOL * SLOT bytes of memory; when every buffer is out, the stream waits (backpressure).
 */
export class Digester extends Transform {
  /** Bytes seen so far: the uncompressed tar size once the stream has ended. */
  size = 0;
  private readonly thread: HashThread;
  private readonly free: ArrayBuffer[] = [];
  private allocated = 0;
  private waiting: (() => void) | null = null;

  constructor() {
    super();
    this.thread = new HashThread((buf) => {
      this.free.push(buf!);
      const w = this.waiting;
      this.waiting = null;
      w?.();
    });
    // never leave the pipeline waiting for a buffer that cannot come back
    this.thread.failed().catch((err: Error) => this.destroy(err));
  }

  private send(chunk: Buffer, off: number, done: () => void): void {
    while (off < chunk.length) {
      let buf = this.free.pop();
      if (buf === undefined && this.allocated < POOL) {
        buf = new ArrayBuffer(SLOT);
        this.allocated++;
      }
      if (buf === undefined) {
        this.waiting = () => this.send(chunk, off, done);
        return;
      }
      const len = Math.min(SLOT, chunk.length - off);
      new Uint8Array(buf).set(chunk.subarray(off, off + len));
      this.thread.post(buf, len);
      off += len;
    }
    done();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    this.send(chunk, 0, () => cb(null, chunk));
  }

  /** "sha256:<hex>" of everything that passed; call after the stream has finished. */
  digest(): Promise<string> {
    return this.thread.digest();
  }

  /** Stops the thread; the stream's own end does not, since digest() comes after it. */
  dispose(): void {
    this.thread.dispose();
  }
}
