// Docker's event stream (`docker events`, and what `docker run` waits on): services emit,
// GET /events subscribes.
import { EventEmitter } from 'node:events';

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
  timeNano: number;
}

export class EventBus extends EventEmitter {
  private readonly recent: DockerEvent[] = [];

  emitEvent(type: DockerEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const now = Date.now();
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
      time: Math.floor(now / 1000),
      timeNano: now * 1_000_000,
    };
    this.recent.push(ev);
    if (this.recent.length > 1000) this.recent.shift();
    this.emit('event', ev);
  }

  /** Events at or after `sinceNano`, for `docker events --since`. */
  since(sinceNano: number): DockerEvent[] {
    return this.recent.filter((e) => e.timeNano >= sinceNano);
  }
}
