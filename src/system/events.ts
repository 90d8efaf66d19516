// Docker's event stream (`docker events`, and what `docker run` waits on): services emit,
// GET /events subscribes.
import { EventEmitter } from 'node:events';
import { goJson } from '../util/go-json.js';

export interface DockerEvent {
  /** Deprecated fields dockerd still fills for container and image events; older clients read them. */
  status?: string;
  id?: string;
  from?: string;
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  /** Nanoseconds since the epoch, past what a JSON number holds exactly: write events with eventJson. */
  timeNano: bigint;
}

/** An event as dockerd's encoder writes it (<, > and & escaped), timeNano with all of its digits. */
export function eventJson(e: DockerEvent): string {
  return goJson({ ...e, timeNano: 0 }).replace(/"timeNano":0(?=[,}])/, `"timeNano":${e.timeNano}`);
}

/**
 * The wall clock in nanoseconds, as dockerd stamps events (Go's time.Now().UnixNano()): Date.now()
 * has milliseconds only, so the monotonic clock adds the rest. It is set back on the wall clock
 * whenever the two drift apart by a millisecond (a clock step), and never repeats a value, so
 * events keep their order.
 */
class NanoClock {
  private wallBase = 0n;
  private monoBase = 0n;
  private last = 0n;

  now(): bigint {
    const wall = BigInt(Date.now()) * 1_000_000n;
    const mono = process.hrtime.bigint();
    let ns = this.wallBase + (mono - this.monoBase);
    const drift = ns - wall;
    if (this.wallBase === 0n || drift >= 1_000_000n || drift <= -1_000_000n) {
      this.wallBase = wall;
      this.monoBase = mono;
      ns = wall;
    }
    if (ns <= this.last) ns = this.last + 1n;
    this.last = ns;
    return ns;
  }
}

export class EventBus extends EventEmitter {
  private readonly recent: DockerEvent[] = [];
  private readonly clock = new NanoClock();

  emitEvent(type: DockerEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const nanos = this.clock.now();
    const legacy =
      type === 'container'
        ? { status: action, id, ...(attributes.image ? { from: attributes.image } : {}) }
        : type === 'image'
          ? { status: action, id }
          : {};
    const ev: DockerEvent = {
      ...legacy,
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nanos / 1_000_000_000n),
      timeNano: nanos,
    };
    this.recent.push(ev);
    if (this.recent.length > 1000) this.recent.shift();
    this.emit('event', ev);
  }

  /** Events at or after `sinceNano`, for `docker events --since`. */
  since(sinceNano: bigint): DockerEvent[] {
    return this.recent.filter((e) => e.timeNano >= sinceNano);
  }
}
