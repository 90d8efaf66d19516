// Writeback of layer files started while layers are still unpacking. A pull's or load's layers
// are flushed with one syncfs before their rows (LayerTx.persist); on a machine with plenty of
// memory the kernel's own writeback never starts during the unpacking, so that syncfs wrote all
// the data and inodes at the end, with the cores idle (0.46 s of a 5 s load of a 1 GiB, 40k-file
// archive, plus a 0.28 s WAL fsync that committed the journal of the same inodes). Background
// syncfs calls while applies run move that disk work into the unpacking; the final syncfs stays
// what makes the layers durable, so no guarantee depends on these.
import fs from 'node:fs';
import { syncfsAsync } from '../native/syscalls.js';

/**
 * Least time from the start of one background syncfs to the next: each one commits the
 * filesystem's journal and flushes the device cache, worth doing a few times a second, not
 * back to back.
 */
const PERIOD_MS = 250;

export class EarlyFlush {
  private holders = 0;
  /** The syncfs under way, one at a time: it holds a thread of the pool a pull's gunzip also uses. */
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastStart = 0;
  /** syncfs calls started, for tests. */
  started = 0;

  /**
   * `dir`: any directory on the filesystem the layers are written to. `skip`: true while a
   * flush now would write data that may be deleted unflushed (a staged copy of a layer that gets
   * a tar-split record): that round is left out.
   */
  constructor(
    private readonly dir: string,
    private readonly skip: () => boolean = () => false,
  ) {}

  /** An apply begins: flushes run until every holder has released. Returns the release. */
  hold(): () => void {
    this.holders++;
    this.schedule();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      if (this.holders === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  /** Whether a background syncfs is under way or due. */
  get busy(): boolean {
    return this.running !== undefined || this.timer !== undefined;
  }

  /** Settles once no background syncfs is under way (the final flush need not share the disk with it). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.holders === 0 || this.running || this.timer) return;
    const wait = Math.max(0, this.lastStart + PERIOD_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.holders === 0) return;
      this.lastStart = Date.now();
      if (this.skipping()) return this.schedule();
      this.started++;
      this.running = this.flushOnce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, wait);
    this.timer.unref();
  }

  private skipping(): boolean {
    try {
      return this.skip();
    } catch {
      return true;
    }
  }

  private async flushOnce(): Promise<void> {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      await syncfsAsync(fd);
    } catch {
      // Only an early start of work the final syncfs does anyway: its failure is that one's to report.
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

/**
 * A map of the layers being extracted (LayerStore.extracting) that holds `flush` while it has
 * entries: every extraction, by whichever path, sets its chainID there for its duration.
 */
export class FlushWhileExtracting<V> extends Map<string, V> {
  private release: (() => void) | undefined;

  constructor(private readonly flush: () => EarlyFlush | undefined) {
    super();
  }

  override set(key: string, value: V): this {
    super.set(key, value);
    if (!this.release) this.release = this.flush()?.hold();
    return this;
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (this.size === 0) this.end();
    return had;
  }

  override clear(): void {
    super.clear();
    this.end();
  }

  private end(): void {
    this.release?.();
    this.release = undefined;
  }
}
