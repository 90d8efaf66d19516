// A mutex: one image-store mutation at a time, in arrival order. A waiter whose operation is
// called off (a pull whose client went away) leaves the queue at once instead of failing only
// once its turn has come, which may be long after, behind a load or another pull.
export class Mutex {
  private held = false;
  /** Waiters in arrival order: each is handed the mutex by its grant. */
  private readonly waiting: Array<() => void> = [];

  /**
   * Runs `fn` once the mutex is free and every earlier waiter has had it. Aborting `signal`
   * while waiting rejects with its reason and `fn` never runs; once `fn` has begun, it no longer
   * matters here (`fn` sees the signal itself if it needs to).
   */
  async run<T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        reject(signal!.reason);
      };
      this.waiting.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // Handed over held: no newcomer can slip in before the next waiter runs.
    if (next) next();
    else this.held = false;
  }

  /** How many wait for the mutex (not counting its holder). */
  get waiters(): number {
    return this.waiting.length;
  }
}
