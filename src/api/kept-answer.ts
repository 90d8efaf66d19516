// `docker system df` lists every container, volume and image with its size: with a few hundred
// of each, shaping and serializing that answer is most of the request, and the CLI asks for all
// of it on every call. The bytes are kept and sent again while nothing they were built from has
// moved: no metadata row written (SQLite's total_changes() counts every write of the daemon's
// connection), no event emitted, no usage figure dropped or replaced, and no time-dependent text
// (a container's "Exited (0) 5 minutes ago") due to turn over.
import type { MetaDb } from '../meta/db.js';
import type { EventBus } from '../system/events.js';
import type { UsageCache } from '../system/usage-cache.js';
import { goJson } from '../util/go-json.js';

export interface AnswerSources {
  db: MetaDb;
  events: EventBus;
  usageCache: UsageCache;
}

interface Kept {
  stamp: string;
  until: number;
  body: Buffer;
}

export class KeptAnswers {
  private events = 0;
  private readonly kept = new Map<string, Kept>();

  constructor(private readonly src: AnswerSources) {
    src.events.on('event', () => {
      this.events++;
    });
  }

  /** What the kept answers were built from, as one comparable value. */
  private stamp(): string {
    const rows = this.src.db.prepare('SELECT total_changes()').pluck().get() as number;
    return `${rows}/${this.events}/${this.src.usageCache.generation}`;
  }

  /**
   * The JSON answer for `key`: the kept bytes while they still hold, else `build()`'s value
   * serialized (and kept until its `until`, a time in ms, unless something changed meanwhile).
   */
  async get(key: string, build: () => Promise<{ value: unknown; until: number }>): Promise<Buffer> {
    const stamp = this.stamp();
    const k = this.kept.get(key);
    if (k && k.stamp === stamp && Date.now() < k.until) return k.body;
    const { value, until } = await build();
    const body = Buffer.from(goJson(value, false) + '\n');
    // Taken before the build: whatever moved while it ran makes the next request build again.
    this.kept.set(key, { stamp, until: Math.min(until, this.src.usageCache.settledUntil()), body });
    return body;
  }
}
