// Writes to an ingest gathered into large batches. A socket hands a layer over in some 32 KiB
// pieces; a write(2) (and a Promise, and a pause and resume of the socket) for each of them was
// the largest part of the main thread's work staging a layer. Gathered, there is one per MiB.
import type { ContentWriter } from './store.js';

const BATCH = 1 << 20;

export interface BatchedWrites {
  /** Takes `chunk` (copied); a promise when a batch is being written: the caller waits for it. */
  write(chunk: Buffer): Promise<void> | undefined;
  /** Writes what is gathered: after it, the ingest holds every byte written here. */
  flush(): Promise<void>;
}

export function batchedWrites(w: ContentWriter): BatchedWrites {
  let batch: Buffer = Buffer.allocUnsafe(BATCH);
  let filled = 0;
  // The batch last written, filled again once its write has settled (a fresh MiB per batch
  // would be page-faulted in on first touch).
  let spare: Buffer | undefined;
  const flush = async () => {
    if (filled === 0) return;
    const written = batch;
    const full = written.subarray(0, filled);
    // Another batch: the one being written is not touched until its write has settled.
    batch = spare ?? Buffer.allocUnsafe(BATCH);
    spare = undefined;
    filled = 0;
    await w.write(full);
    spare = written;
  };
  return {
    write(chunk) {
      if (chunk.length >= BATCH) return flush().then(() => w.write(chunk));
      if (filled + chunk.length > BATCH) {
        const wait = flush();
        filled = chunk.copy(batch, 0);
        return wait;
      }
      filled += chunk.copy(batch, filled);
      return filled === BATCH ? flush() : undefined;
    },
    flush,
  };
}
