// Blob downloads shared by every pull in the daemon: a layer two pulls need at once is fetched
// once (the pull that asked first fetches and applies it; the other waits until it is stored,
// and fetches it itself only if that pull failed), and at most three blobs are fetched at a time
// (dockerd's max-concurrent-downloads) beyond the layers being applied. Scratch files of layers
// fetched ahead live in this room's directory, which a daemon start empties.
import path from 'node:path';
import { randomBytes } from 'node:crypto';

interface Entry {
  /** Settles once the pull that fetches the blob has stored its layer (or failed). */
  done: Promise<void>;
  refs: number;
}

export class SharedDownloads {
  private readonly entries = new Map<string, Entry>();
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly dir: string,
    readonly limit = 3,
  ) {}

  /** Registers the blob as fetched by this pull: another asking for it waits on `done`. */
  claim(digest: string, done: Promise<void>): void {
    this.entries.set(digest, { refs: 1, done });
  }

  /** The claim of a blob another pull fetches, joined (released like a claim), if there is one. */
  join(digest: string): Promise<void> | undefined {
    const e = this.entries.get(digest);
    if (!e) return undefined;
    e.refs++;
    return e.done;
  }

  has(digest: string): boolean {
    return this.entries.has(digest);
  }

  /** This pull is done with the blob. */
  release(digest: string, done: Promise<void>): void {
    const e = this.entries.get(digest);
    if (e && e.done === done && --e.refs === 0) this.entries.delete(digest);
  }

  /** Whether a download would start now rather than wait for a slot. */
  get free(): boolean {
    return this.running < this.limit;
  }

  /**
   * A download slot, or none once `bypass` settles first (the layer's apply has begun: it must
   * not wait behind downloads of layers that wait on it). Returns what frees the slot.
   */
  turn(bypass: Promise<void>): Promise<() => void> {
    const taken = (): (() => void) => {
      this.running++;
      let freed = false;
      return () => {
        if (freed) return;
        freed = true;
        this.running--;
        this.queue.shift()?.();
      };
    };
    if (this.free) return Promise.resolve(taken());
    return new Promise((resolve) => {
      const take = () => resolve(taken());
      this.queue.push(take);
      void bypass.then(() => {
        const i = this.queue.indexOf(take);
        if (i < 0) return;
        this.queue.splice(i, 1);
        resolve(() => {});
      });
    });
  }

  /** A new scratch file's name for the blob (layer-feed.ts makes its directory if need be). */
  scratchFile(digest: string): string {
    return path.join(this.dir, `${digest.slice(7)}-${randomBytes(4).toString('hex')}`);
  }
}
