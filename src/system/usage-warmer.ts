// Takes the figures `system df` will ask for while the daemon is idle. After the start, and
// whenever no request has been in flight and no event has come for a moment, every stopped
// container's writable layer and every local volume whose figure is missing is walked, one at a
// time, into the usage cache, so the first `system df` after a start or a batch of runs finds
// figures instead of walking everything itself. A new request or event ends the round; the next
// quiet moment starts another. Stopping (the daemon's shutdown) ends the round at once: the walk
// under way is the usage cache's, which the shutdown calls off (UsageCache.close).
import type { StorageView } from './storage-view.js';
import type { UsageCache } from './usage-cache.js';

class Superseded extends Error {}

/** What the warm-up reads: quiet (events, activity), the containers and volumes to walk, and where. */
export type WarmedStorage = Pick<StorageView, 'events' | 'activity' | 'log' | 'containers' | 'snapshotter'> & {
  volumes: Pick<StorageView['volumes'], 'diskUsage'>;
};

export class UsageWarmer {
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly engine: WarmedStorage,
    private readonly cache: UsageCache,
    private readonly quietMs = 1_500,
  ) {}

  start(): void {
    this.engine.events.on('event', () => this.poke());
    this.engine.activity?.on('change', () => this.poke());
    this.poke();
  }

  /** No round starts any more; resolves once the one under way (if any) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Something happened: wait for the next quiet moment. */
  private poke(): void {
    this.generation++;
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.round(), this.quietMs).unref();
  }

  /** One pass over what is missing; resolves early when an event comes in meanwhile. */
  async round(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = this.walk();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async walk(): Promise<void> {
    const generation = this.generation;
    const superseded = () => this.stopped || this.generation !== generation || this.engine.activity?.idle === false;
    try {
      for (const c of await this.engine.containers.list()) {
        if (superseded()) return;
        if (c.state.Running || this.cache.has(c.snapshotKey)) continue;
        await this.engine.snapshotter.usage(c.snapshotKey).catch(() => undefined);
      }
      await this.engine.volumes.diskUsage(async (name, dir) => {
        if (superseded()) throw new Superseded();
        return (await this.cache.volume(name, dir)).size;
      });
    } catch (err) {
      if (!(err instanceof Superseded) && !this.stopped)
        this.engine.log.debug(`usage warm-up: ${(err as Error).message}`);
    }
  }
}
