// API requests in flight. Background work (the usage warm-up) waits until none is, so it never
// competes for the disk with something a client is waiting for. A `docker events` stream is
// not counted: it stays open for as long as someone watches.
import { EventEmitter } from 'node:events';

export class Activity extends EventEmitter {
  private inFlight = 0;
  private count = 0;

  /** A request started; the returned function says it ended (once). */
  begin(): () => void {
    this.inFlight++;
    this.count++;
    this.emit('change');
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      this.emit('change');
    };
  }

  /** Requests begun since the start: two equal readings with one request in flight mean none came in between. */
  get begun(): number {
    return this.count;
  }

  /** Requests in flight, the caller's own included. */
  get requests(): number {
    return this.inFlight;
  }

  get idle(): boolean {
    return this.inFlight === 0;
  }
}
