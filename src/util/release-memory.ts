// After a burst of work the daemon keeps what the burst used, long after it ended:
// - dead objects wait in the old generation for a collection that no further allocation
//   triggers (the daemon starts with a 64 MiB old generation so that requests end between
//   collections): 200 `docker run`s left 35 MB of it, 27 MB of which were garbage;
// - the young generation grows to 32 MB in a burst and V8 shrinks it only after a collection
//   that finds the allocation rate low over its last five seconds;
// - glibc keeps the pages of freed native buffers (zlib/zstd windows, libuv reads, worker
//   threads' heaps) in its arenas. Measured on 20 concurrent loads of a 126 MB archive: RSS
//   169 MB afterwards, 161 MB after a full collection, 79 MB after malloc_trim as well.
// So once the last of a burst ends and nothing new starts for a moment, collect once and give
// the free pages back; if still quiet five seconds later, collect again, which lets V8 shrink
// the young generation. A heavy operation (load, pull, commit, rmi) always earns a release; a
// burst of API requests earns one when the daemon grew by more than a slack since the last.
import v8 from 'node:v8';
import vm from 'node:vm';
import koffi from 'koffi';

/** What a release does; the default is the process's own heap and allocator. */
export interface MemoryHooks {
  /** A full collection of the JS heap. */
  collect(): void;
  /** Gives the allocator's free pages back to the kernel. */
  trim(): void;
  /** Resident bytes now. */
  rss(): number;
}

export interface ReleaseTiming {
  /** How long nothing may run before a release. */
  quietMs: number;
  /** How long after a release a quiet daemon collects again (V8 judges its allocation rate over 5 s). */
  settleMs: number;
  /** Growth over the last settled RSS that earns a release after plain requests. */
  slackBytes: number;
}

/** What says whether API requests are in flight (system/activity.ts). */
export interface RequestActivity {
  readonly idle: boolean;
  on(event: 'change', listener: () => void): unknown;
}

/**
 * Run at each release, before the collection: false means done (not run again); a promise is
 * waited for (a worker thread ending frees its heap only once it has stopped).
 */
export type ReleaseHook = () => boolean | void | Promise<unknown>;

const DEFAULT_TIMING: ReleaseTiming = { quietMs: 1000, settleMs: 5500, slackBytes: 16 << 20 };

export class MemoryReleaser {
  private heavy = 0;
  private requestsIdle = true;
  /** A heavy operation ended since the last release. */
  private heavyEnded = false;
  /** Work began since the last release or check. */
  private worked = false;
  /** RSS once the last release settled (or when requests were first followed). */
  private floor = Infinity;
  private timer: NodeJS.Timeout | undefined;
  private hooks: ReleaseHook[] = [];
  /** Releases done, and second collections after them. */
  releases = 0;
  settled = 0;

  constructor(
    private readonly memory: MemoryHooks = processMemory,
    private readonly timing: ReleaseTiming = DEFAULT_TIMING,
  ) {}

  /** Runs `fn` at every release: caches that can be rebuilt, threads that idle, let go of what they hold. */
  onRelease(fn: ReleaseHook): void {
    this.hooks.push(fn);
  }

  /** Marks the start of a memory-heavy operation; call the returned function when it ends. */
  heavyOperation(): () => void {
    this.heavy++;
    this.busy();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.heavy--;
      this.heavyEnded = true;
      this.maybeQuiet();
    };
  }

  /** Follows API requests: a burst of them is work, their end a chance to release. */
  follow(activity: RequestActivity): void {
    this.floor = this.memory.rss();
    activity.on('change', () => {
      this.requestsIdle = activity.idle;
      if (activity.idle) this.maybeQuiet();
      else this.busy();
    });
    // Starting up (recovery, opening every room) was a burst of its own.
    this.heavyEnded = true;
    this.maybeQuiet();
  }

  private busy(): void {
    this.worked = true;
    this.clear();
  }

  private clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private get quiet(): boolean {
    return this.heavy === 0 && this.requestsIdle;
  }

  private maybeQuiet(): void {
    if (!this.quiet) return;
    this.clear();
    this.timer = setTimeout(() => this.onQuiet(), this.timing.quietMs);
    this.timer.unref();
  }

  private onQuiet(): void {
    this.timer = undefined;
    if (!this.quiet) return;
    const worked = this.worked;
    this.worked = false;
    if (!this.heavyEnded && !(worked && this.memory.rss() >= this.floor + this.timing.slackBytes)) return;
    this.heavyEnded = false;
    void this.release().then(() => {
      // Work that began (or began and ended) while the hooks ran has its own timer.
      if (this.timer || !this.quiet || this.worked) return;
      this.timer = setTimeout(() => this.onSettled(), this.timing.settleMs);
      this.timer.unref();
    });
  }

  private onSettled(): void {
    this.timer = undefined;
    // Work that began meanwhile gets its own quiet moment; this one is over.
    if (!this.quiet || this.worked) return;
    this.memory.collect();
    this.memory.trim();
    this.settled++;
    this.floor = this.memory.rss();
  }

  private async release(): Promise<void> {
    const kept: ReleaseHook[] = [];
    const pending: Promise<unknown>[] = [];
    for (const fn of this.hooks) {
      try {
        const r = fn();
        if (r === false) continue;
        if (r instanceof Promise) pending.push(r);
      } catch {
        // A cache that cannot let go keeps its memory; the release goes on.
      }
      kept.push(fn);
    }
    this.hooks = kept;
    await Promise.allSettled(pending);
    this.memory.collect();
    this.memory.trim();
    this.releases++;
  }
}

let trim: ((pad: number) => number) | null | undefined;
let collect: (() => void) | null | undefined;

const processMemory: MemoryHooks = {
  collect() {
    if (collect === undefined) {
      try {
        // The gc function of a fresh context, made visible once; the flag is put back at once.
        v8.setFlagsFromString('--expose-gc');
        collect = vm.runInNewContext('gc') as () => void;
        v8.setFlagsFromString('--no-expose-gc');
      } catch {
        collect = null;
      }
    }
    collect?.();
  },
  trim() {
    if (trim === undefined) {
      try {
        trim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as (pad: number) => number;
      } catch {
        trim = null;
      }
    }
    trim?.(0);
  },
  rss: () => process.memoryUsage.rss(),
};

/** The daemon's one releaser: the rooms mark their heavy operations, the daemon has it follow requests. */
export const memoryReleaser = new MemoryReleaser();

/** Marks the start of a memory-heavy operation; call the returned function when it ends. */
export function heavyOperation(): () => void {
  return memoryReleaser.heavyOperation();
}
