// Threads kept for a moment once their work is done. A worker thread takes tens to hundreds of
// milliseconds to start (its isolate, its modules), and a load or pull gives its threads one
// layer after another: the next layer takes the thread the last one left. An idle thread does
// not keep the process alive, ends after a while unused, and is dropped if it fails meanwhile.
import { Worker } from 'node:worker_threads';

interface Idle {
  worker: Worker;
  timer: NodeJS.Timeout;
  drop: () => void;
}

export class IdleThreads {
  private readonly idle: Idle[] = [];

  /**
   * @param start starts a new thread when none is idle
   * @param max threads kept at most; one more is ended at once
   * @param keepMs how long an unused thread is kept, unless told otherwise
   */
  constructor(
    private readonly start: () => Worker,
    private readonly max: number,
    private readonly keepMs: number,
  ) {}

  /** An idle thread (made to keep the process alive again), or a new one. */
  take(): Worker {
    const w = this.idle.pop();
    if (!w) return this.start();
    clearTimeout(w.timer);
    w.worker.off('error', w.drop);
    w.worker.ref();
    return w.worker;
  }

  /** Keeps `worker`, which holds no work any more, for the next one; ended if `max` are kept. */
  keep(worker: Worker, keepMs = this.keepMs): void {
    if (this.idle.length >= this.max) {
      void worker.terminate();
      return;
    }
    worker.unref();
    const drop = () => {
      clearTimeout(entry.timer);
      const i = this.idle.indexOf(entry);
      if (i >= 0) this.idle.splice(i, 1);
      void worker.terminate();
    };
    const entry: Idle = { worker, timer: setTimeout(drop, keepMs), drop };
    entry.timer.unref();
    // A thread that fails while idle is not taken again (and its error is not an uncaught one).
    worker.once('error', drop);
    this.idle.push(entry);
  }

  /** How many threads are idle. */
  get size(): number {
    return this.idle.length;
  }

  /** Ends the idle threads now; resolves once they have stopped (their heaps then go back to the system). */
  endAll(): Promise<unknown> {
    return Promise.allSettled(
      this.idle.splice(0).map((w) => {
        clearTimeout(w.timer);
        w.worker.off('error', w.drop);
        return w.worker.terminate();
      }),
    );
  }
}
