// The diffID digester: a pass-through stage that hashes every byte on a worker thread.
// sha256 of a 1 GiB layer costs about half a second of CPU; on the main thread it would be
// serialised with the extraction, on a worker it runs beside it. Chunks are copied into a
// small pool of buffers that travel to the worker and back (transferred, never cloned), so
// hashing adds no garbage and at most POOL * SLOT bytes of memory; when every buffer is out,
// the stream waits for the worker (backpressure).
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';

const SLOT = 1 << 20;
const POOL = 8;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m === null) { parentPort.postMessage({ digest: hash.digest('hex') }); return; }
  hash.update(new Uint8Array(m.buf, 0, m.len));
  parentPort.postMessage({ buf: m.buf }, [m.buf]);
});
`;

export class Digester extends Transform {
  /** Bytes seen so far: the uncompressed tar size once the stream has ended. */
  size = 0;
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private readonly free: ArrayBuffer[] = [];
  private allocated = 0;
  private waiting: (() => void) | null = null;
  private readonly result: Promise<string>;

  constructor() {
    super();
    this.result = new Promise((resolve, reject) => {
      this.worker.on('message', (m: { buf?: ArrayBuffer; digest?: string }) => {
        if (m.digest !== undefined) resolve(m.digest);
        if (m.buf !== undefined) {
          this.free.push(m.buf);
          const w = this.waiting;
          this.waiting = null;
          w?.();
        }
      });
      this.worker.once('error', (err) => {
        reject(err);
        this.destroy(err); // never leave the pipeline waiting for a buffer that cannot come back
      });
    });
    this.result.catch(() => {}); // surfaced by digest()
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
      this.worker.postMessage({ buf, len }, [buf]);
      off += len;
    }
    done();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    this.send(chunk, 0, () => cb(null, chunk));
  }

  /** "sha256:<hex>" of everything that passed; call after the stream has finished. */
  async digest(): Promise<string> {
    this.worker.postMessage(null);
    try {
      return `sha256:${await this.result}`;
    } finally {
      this.dispose();
    }
  }

  /** Stops the worker; the stream's own end does not, since digest() comes after it. */
  dispose(): void {
    void this.worker.terminate();
  }
}
