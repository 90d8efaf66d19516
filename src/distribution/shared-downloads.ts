// Blob downloads shared by every pull in the daemon: a layer two pulls need at once is fetched
// once (the pull that asked first fetches and applies it; the other waits until it is stored,
// and fetches it itself only if that pull failed), and at most three blobs are fetched at a time
// (dockerd's max-concurrent-downloads) beyond the layers being applied. A download left by a
// pull that ended early is kept for the pulls still waiting on it (Claim.orphan). Scratch files of layers
// fetched ahead live in this room's directory, which a daemon start empties.
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * A blob one pull fetches, joined by the other pulls that need it. A pull that ends without
 * storing the layer (its client went away, or it failed elsewhere) may leave its download
 * running as the `orphan`, for a pull still waiting on it to adopt, as dockerd's pulls share a
 * download while any of them still waits for it.
 */
export interface Claim<T extends { close(): Promise<void> }> {
  readonly digest: string;
  /** Settles once the pull that fetches the blob has stored its layer (or failed). */
  done: Promise<void>;
  /** Pulls holding the claim: the one that fetches and those that wait. */
  refs: number;
  orphan?: T;
}

export class SharedDownloads<T extends { close(): Promise<void> } = { close(): Promise<void> }> {
  private readonly entries = new Map<string, Claim<T>>();
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly dir: string,
    readonly limit = 3,
  ) {}

  /** Registers the blob as fetched by this pull: another asking for it waits on `done`. */
  claim(digest: string, done: Promise<void>): Claim<T> {
    const c: Claim<T> = { digest, refs: 1, done };
    this.entries.set(digest, c);
    return c;
  }

  /** The claim of a blob another pull fetches, joined (released like a claim), if there is one. */
  join(digest: string): Claim<T> | undefined {
    const c = this.entries.get(digest);
    if (!c) return undefined;
    c.refs++;
    return c;
  }

  has(digest: string): boolean {
    return this.entries.has(digest);
  }

  /** Whether pulls other than the one fetching wait on the claim. */
  joined(c: Claim<T>): boolean {
    return c.refs > 1;
  }

  /**
   * The download the fetching pull left running, taken over by a pull that waited on it: that
   * pull now fetches the blob, and `done` (its own) is what the others wait on.
   */
  adopt(c: Claim<T>, done: Promise<void>): T | undefined {
    const o = c.orphan;
    if (!o) return undefined;
    c.orphan = undefined;
    c.done = done;
    return o;
  }

  /** This pull is done with the blob; a download left for pulls that are all gone stops. */
  release(c: Claim<T>): void {
    if (--c.refs > 0) return;
    if (this.entries.get(c.digest) === c) this.entries.delete(c.digest);
    const o = c.orphan;
    c.orphan = undefined;
    void o?.close();
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
