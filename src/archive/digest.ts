// The diffID digester: a pass-through stage that hashes every byte on a worker thread.
// sha256 of a 1 GiB layer costs about half a second of CPU; on the main thread it would be
// serialised with the extraction, on a worker it runs beside it. Chunks are copied to the
// worker (a memcpy, far cheaper than hashing) and at most WINDOW bytes may be in flight.
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';

const WINDOW = 16 << 20;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
let seen = 0;
parentPort.on('message', (m) => {
  if (m === null) { parentPort.postMessage({ digest: hash.digest('hex') }); return; }
  hash.update(new Uint8Array(m));
  seen += m.byteLength;
  parentPort.postMessage({ ack: seen });
});
`;

export class Digester extends Transform {
  /** Bytes seen so far: the uncompressed tar size once the stream has ended. */
  size = 0;
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private acked = 0;
  private waiting: TransformCallback | null = null;
  private readonly result: Promise<string>;

  constructor() {
    super();
    this.result = new Promise((resolve, reject) => {
      this.worker.on('message', (m: { ack?: number; digest?: string }) => {
        if (m.digest !== undefined) resolve(m.digest);
        if (m.ack !== undefined) {
          this.acked = m.ack;
          if (this.waiting && this.size - this.acked <= WINDOW) {
            const cb = this.waiting;
            this.waiting = null;
            cb();
          }
        }
      });
      this.worker.once('error', reject);
    });
    this.result.catch(() => {}); // surfaced by digest()
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const copy = new ArrayBuffer(chunk.length);
    new Uint8Array(copy).set(chunk);
    this.worker.postMessage(copy, [copy]);
    this.size += chunk.length;
    this.push(chunk);
    if (this.size - this.acked > WINDOW) this.waiting = cb;
    else cb();
  }

  /** "sha256:<hex>" of everything that passed; call after the stream has finished. */
  async digest(): Promise<string> {
    this.worker.postMessage(null);
    try {
      return `sha256:${await this.result}`;
    } finally {
      void this.worker.terminate();
    }
  }

  /** Stops the worker; the stream's own end does not, since digest() comes after it. */
  dispose(): void {
    void this.worker.terminate();
  }
}
