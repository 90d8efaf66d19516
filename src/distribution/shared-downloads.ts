// Blob downloads shared by every pull in the daemon: a blob two pulls need at once is fetched
// once (the second waits on the first), at most three blobs are fetched ahead into scratch files
// at a time (dockerd's max-concurrent-downloads), and a file goes when the last pull using it
// lets go. A blob applied straight from the socket is registered too, without a file.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

interface Entry {
  file: string;
  done: Promise<void>;
  refs: number;
  settled: boolean;
  /** Stops a download nobody wants any more. */
  abort?: AbortController;
}

export interface DownloadHandle {
  file: string;
  done: Promise<void>;
  /** True when another pull had already started this blob. */
  joined: boolean;
}

export class SharedDownloads {
  private readonly entries = new Map<string, Entry>();
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly dir: string,
    readonly limit = 3,
  ) {}

  /**
   * The blob's download: joins one in flight, else queues `fetch` (called with the file to
   * write once a slot is free; `onStart` tells the caller it left the queue).
   */
  acquire(
    digest: string,
    fetch: (file: string, signal: AbortSignal) => Promise<void>,
    onStart: () => void,
  ): DownloadHandle {
    const have = this.entries.get(digest);
    if (have) {
      have.refs++;
      return { file: have.file, done: have.done, joined: true };
    }
    const file = path.join(this.dir, `${digest.slice(7)}-${randomBytes(4).toString('hex')}`);
    const abort = new AbortController();
    const entry: Entry = { file, refs: 1, settled: false, done: Promise.resolve(), abort };
    entry.done = (async () => {
      await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await this.slot();
      try {
        onStart();
        await fetch(file, abort.signal);
      } finally {
        this.free();
      }
    })();
    entry.done.then(
      () => {
        entry.settled = true;
      },
      () => {
        entry.settled = true;
        // A failed download is not shared with the next pull that asks.
        if (this.entries.get(digest) === entry) this.entries.delete(digest);
      },
    );
    this.entries.set(digest, entry);
    return { file, done: entry.done, joined: false };
  }

  /**
   * Registers a blob a pull applies straight from the socket (no file): another pull asking for
   * it waits on `done`, then finds the layer stored (or, if that pull failed, fetches it itself).
   */
  claimStream(digest: string, done: Promise<void>): void {
    const entry: Entry = { file: '', refs: 1, settled: false, done };
    done.then(
      () => {
        entry.settled = true;
      },
      () => {
        entry.settled = true;
      },
    );
    this.entries.set(digest, entry);
  }

  has(digest: string): boolean {
    return this.entries.has(digest);
  }

  /** This pull is done with the blob; the file goes with its last user. */
  async release(digest: string, file: string): Promise<void> {
    const e = this.entries.get(digest);
    if (e && e.file === file) {
      if (--e.refs > 0) return;
      this.entries.delete(digest);
      if (!e.settled) e.abort?.abort();
      await e.done.catch(() => {});
    }
    if (file) await fsp.rm(file, { force: true });
  }

  private slot(): Promise<void> {
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.queue.push(() => {
        this.running++;
        resolve();
      }),
    );
  }

  private free(): void {
    this.running--;
    this.queue.shift()?.();
  }
}
