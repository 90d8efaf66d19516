// A layer's bytes on their way from the registry to its unpacking thread. Every missing layer of
// a pull is fetched over its own connection from the start, and applied from that connection
// once its turn to unpack comes; until then it holds a small head in memory and its connection
// is paused by backpressure. Only when the network is the limit are a waiting layer's bytes
// written ahead into a scratch file, and its apply reads that file first and the connection
// after it.
//
// Why (measured on a 1.1 GiB, 40k-file, 4-layer gzip image from a loopback registry, 2 cores):
// the pull is CPU-bound. The three layers fetched ahead arrived in 3 s (about 200 MB/s) while
// each took about 4 s to unpack (about 50 MB/s of its compressed bytes), and fetching them ahead
// wrote, read back and deleted 0.59 GiB of scratch files on the cores that unpack (the daemon
// wrote 1.78 GiB per pull, 1.19 GiB without them). A paused connection costs only its socket
// buffers, and one the registry drops while paused is resumed with a Range request
// (blob-download.ts). Where the unpacking threads wait on their sockets instead (the network is
// slower than unpacking), the time a layer spends waiting for its turn is bandwidth lost: there
// the scratch file pays off; where they wait because the daemon is short of CPU (other work on
// the machine, or its own unpacking), it does not (NetworkPace).
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { writeAllAt } from '../util/write-at.js';
import { cpuIsTheLimit, daemonCpuDemand, type CpuDemand } from './cpu-demand.js';

/**
 * What a layer keeps in memory before its connection is paused: the unpacking thread's own
 * batches already hold a few MiB of a layer being applied, so this only needs to cover a
 * socket read or two (a peak RSS under 300 MiB leaves little room for more).
 */
export const HEAD_BYTES = 256 << 10;

/** The slab a scratch file is read back in. */
const READ_BYTES = 1 << 20;

/**
 * Whether the unpacking threads are waiting on the network rather than the other way round:
 * they spent over half their time waiting for bytes, and a second at least (a registry's time
 * to its first bytes alone is not a slow network).
 */
export function networkIsTheLimit(waitedMs: number, consumingMs: number): boolean {
  return waitedMs >= 1000 && waitedMs * 2 > consumingMs;
}

/** How often, at most, the daemon's CPU demand is read while the network looks like the limit. */
const CPU_CHECK_MS = 250;

/**
 * How long the layers being applied of one pull have waited on their connections, and whether
 * that makes the network the limit: only if the daemon did not want a core or more meanwhile
 * (cpu-demand.ts). On a machine whose cores are all busy, the unpacking threads wait on their
 * sockets too (the thread reading them, or the registry's, waits for a core), and fetching ahead
 * would only add a scratch file's writes and reads on the cores that are the limit.
 */
export class NetworkPace {
  private readonly consumers = new Map<object, { since: number; waited: number }>();
  private slow = false;
  private readonly onSlow = new Set<() => void>();
  /** When the first layer began to be applied, and the daemon's CPU demand then. */
  private origin: { at: number; demand: number } | undefined;
  private nextCpuCheck = 0;

  constructor(private readonly demand: CpuDemand = daemonCpuDemand) {}

  /** True once the network was found to be the limit (it stays so for the pull). */
  get networkBound(): boolean {
    return this.slow;
  }

  /** Calls `fn` when the network is found to be the limit. */
  whenSlow(fn: () => void): () => void {
    this.onSlow.add(fn);
    return () => this.onSlow.delete(fn);
  }

  started(consumer: object): void {
    const now = performance.now();
    this.origin ??= { at: now, demand: this.demand() };
    this.consumers.set(consumer, { since: now, waited: 0 });
  }

  ended(consumer: object): void {
    this.consumers.delete(consumer);
  }

  waited(consumer: object, ms: number): void {
    const c = this.consumers.get(consumer);
    if (!c || this.slow) return;
    c.waited += ms;
    const now = performance.now();
    let waited = 0;
    let consuming = 0;
    for (const x of this.consumers.values()) {
      waited += x.waited;
      consuming += now - x.since;
    }
    if (!networkIsTheLimit(waited, consuming)) return;
    if (now < this.nextCpuCheck) return;
    this.nextCpuCheck = now + CPU_CHECK_MS;
    const origin = this.origin!;
    if (cpuIsTheLimit(this.demand() - origin.demand, now - origin.at)) return;
    this.slow = true;
    for (const fn of this.onSlow) fn();
  }
}

export interface FeedOptions {
  /** The scratch file the bytes go to when they are fetched ahead. */
  scratch: string;
  pace: NetworkPace;
  /**
   * Waits for a download slot (settling at once for a layer whose apply has begun: nothing may
   * queue it behind layers that wait on it); returns the function that frees the slot.
   */
  turn(applying: Promise<void>): Promise<() => void>;
  /** Told when the scratch file is created (tests watch for it). */
  onScratch?(file: string): void;
}

/**
 * One layer's download, started at once: `chunks` is the verified blob (it throws, and nothing
 * applied from it is kept, if its digest or size is wrong). `open` hands its bytes to the
 * unpacking thread; `close` stops it and removes what it wrote.
 */
export class LayerFeed {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failed: { err: unknown } | undefined;
  private closed = false;
  private attached = false;
  private attach!: () => void;
  private readonly applying = new Promise<void>((resolve) => (this.attach = resolve));
  private wakeReader?: () => void;
  private wakePump?: () => void;
  private spill: { fh: FileHandle; size: number } | undefined;
  private writing: Promise<unknown> = Promise.resolve();
  private whole: { file: string; onProgress?: (bytesRead: number) => void } | undefined;
  /**
   * The streamed apply's progress: bytes handed to it, reported once the download is complete
   * (Docker's "Extracting" follows "Download complete"; before, the download's own progress
   * says the same thing).
   */
  private handed = 0;
  private onHanded: ((bytes: number) => void) | undefined;
  private readonly stopSlow: () => void;
  private readonly abort = new AbortController();
  /** Settles when the download has ended (verified) or failed. */
  readonly done: Promise<void>;

  constructor(
    private readonly chunks: (signal: AbortSignal) => AsyncGenerator<Buffer>,
    private readonly opts: FeedOptions,
  ) {
    this.stopSlow = opts.pace.whenSlow(() => this.wakePump?.());
    this.done = this.pump();
    this.done.catch(() => {});
  }

  /** Whether its apply has begun: its bytes are no longer any other apply's to take. */
  get applyBegun(): boolean {
    return this.attached;
  }

  /** Whether it still fetches, or has fetched, the whole blob: not stopped, not failed. */
  get live(): boolean {
    return !this.closed && !this.failed;
  }

  /** Whether the bytes go to the scratch file now: the network is slow and the apply not begun. */
  private get ahead(): boolean {
    return !this.attached && !this.closed && this.opts.pace.networkBound;
  }

  private async pump(): Promise<void> {
    const free = await this.opts.turn(this.applying);
    try {
      if (this.closed) return;
      for await (const b of this.chunks(this.abort.signal)) {
        if (this.closed) return;
        this.queue.push(b);
        this.queued += b.length;
        this.wakeReader?.();
        while (this.queued >= HEAD_BYTES && !this.closed && !this.ahead)
          await new Promise<void>((resolve) => (this.wakePump = resolve));
        while (this.ahead && this.queue.length) {
          const c = this.queue.shift()!;
          this.queued -= c.length;
          await this.toScratch(c);
        }
      }
      this.ended = true;
      this.onHanded?.(this.handed);
    } catch (err) {
      this.failed = { err };
      throw err;
    } finally {
      free();
      this.wakeReader?.();
    }
  }

  private async toScratch(b: Buffer): Promise<void> {
    const write = (async () => {
      if (!this.spill) {
        await fsp.mkdir(path.dirname(this.opts.scratch), { recursive: true, mode: 0o700 });
        this.spill = { fh: await fsp.open(this.opts.scratch, 'w+', 0o600), size: 0 };
        this.opts.onScratch?.(this.opts.scratch);
      }
      const s = this.spill;
      await writeAllAt(s.fh.fd, b, s.size);
      s.size += b.length;
    })();
    this.writing = write.catch(() => {});
    await write;
  }

  /**
   * The layer's bytes for its apply: the scratch file itself when the whole verified blob is in
   * it (the unpacking thread reads it), else a stream of what is in the file, then the connection.
   */
  async open(
    onProgress?: (bytesRead: number) => void,
  ): Promise<Readable | { file: string; onProgress?: (bytesRead: number) => void }> {
    this.attached = true;
    this.attach();
    this.wakePump?.();
    await this.writing;
    if (this.spill && this.ended && !this.queue.length) {
      await this.spill.fh.close();
      this.spill = undefined;
      this.whole = { file: this.opts.scratch, onProgress };
      return this.whole;
    }
    this.onHanded = onProgress;
    const stream = Readable.from(this.read(), { objectMode: false });
    return stream;
  }

  /** The scratch file once more, when `open` gave the whole blob as one (kept until `close`). */
  again(): { file: string; onProgress?: (bytesRead: number) => void } | undefined {
    return this.whole;
  }

  private async *read(): AsyncGenerator<Buffer> {
    const pace = this.opts.pace;
    pace.started(this);
    try {
      if (this.spill) {
        const { fh, size } = this.spill;
        for (let pos = 0; pos < size;) {
          const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, size - pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (!bytesRead) throw new Error(`scratch file ended at ${pos} of ${size} bytes`);
          pos += bytesRead;
          this.handed += bytesRead;
          yield buf.subarray(0, bytesRead);
        }
        this.spill = undefined;
        await fh.close();
        await fsp.rm(this.opts.scratch, { force: true });
      }
      for (;;) {
        const b = this.queue.shift();
        if (b) {
          this.queued -= b.length;
          if (this.queued < HEAD_BYTES) this.wakePump?.();
          this.handed += b.length;
          if (this.ended) this.onHanded?.(this.handed);
          yield b;
          continue;
        }
        if (this.failed) throw this.failed.err;
        if (this.ended) return;
        const t = performance.now();
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
        this.wakeReader = undefined;
        pace.waited(this, performance.now() - t);
      }
    } finally {
      pace.ended(this);
      // Ended early (the apply failed): the download stops.
      if (!this.ended) this.closeNow();
    }
  }

  /** Stops the download now (its pull was called off); `close` still removes what it wrote. */
  stop(): void {
    this.closeNow();
  }

  private closeNow(): void {
    this.closed = true;
    this.abort.abort();
    this.attach();
    this.wakePump?.();
  }

  /** Stops the download (if it still runs) and removes the scratch file. */
  async close(): Promise<void> {
    this.closeNow();
    this.stopSlow();
    await this.done.catch(() => {});
    await this.writing;
    await this.spill?.fh.close().catch(() => {});
    this.spill = undefined;
    await fsp.rm(this.opts.scratch, { force: true });
  }
}
