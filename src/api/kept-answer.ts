// `docker system df` lists every container, volume and image with its size: with a few hundred
// of each, shaping and serializing that answer is most of the request, and the CLI asks for all
// of it on every call. The bytes are kept and sent again while nothing they were built from has
// moved: no metadata row written (SQLite's total_changes() counts every write of the daemon's
// connection), no event emitted, no usage figure dropped or replaced, and no running figure
// past its age limit. Texts that age by themselves (a container's "Exited (0) 5 seconds ago")
// are left as holes in the kept bytes and written afresh into each answer.
import { randomBytes } from 'node:crypto';
import type { MetaDb } from '../meta/db.js';
import type { EventBus } from '../system/events.js';
import type { UsageCache } from '../system/usage-cache.js';
import { goJson } from '../util/go-json.js';

export interface AnswerSources {
  db: MetaDb;
  events: EventBus;
  usageCache: UsageCache;
}

/** Puts a hole in the answer being built: the string value `text()` gives at each send. */
export type LateText = (text: () => string) => string;

interface Kept {
  stamp: string;
  until: number;
  /** The answer's bytes between the holes (one more than there are holes). */
  parts: Buffer[];
  holes: (() => string)[];
}

export class KeptAnswers {
  private events = 0;
  private readonly kept = new Map<string, Kept>();
  /** Marks a hole in the serialized answer; random, so no value in an answer can forge one. */
  private readonly mark = `late-${randomBytes(16).toString('hex')}-`;

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
  async get(key: string, build: (late: LateText) => Promise<{ value: unknown; until: number }>): Promise<Buffer> {
    const stamp = this.stamp();
    let k = this.kept.get(key);
    if (!k || k.stamp !== stamp || Date.now() >= k.until) {
      const holes: (() => string)[] = [];
      const { value, until } = await build((text) => `${this.mark}${holes.push(text) - 1}`);
      k = {
        // Taken before the build: whatever moved while it ran makes the next request build again.
        stamp,
        until: Math.min(until, this.src.usageCache.settledUntil()),
        parts: this.split(goJson(value, false) + '\n', holes.length),
        holes,
      };
      this.kept.set(key, k);
    }
    if (k.holes.length === 0) return k.parts[0]!;
    const out: Buffer[] = [k.parts[0]!];
    k.holes.forEach((text, i) => out.push(Buffer.from(goJson(text(), false)), k.parts[i + 1]!));
    return Buffer.concat(out);
  }

  /**
   * Lets go of the answers that no longer hold: the next request builds its own anyway, and
   * one listing hundreds of containers since removed would otherwise stay until then.
   */
  dropStale(): void {
    const stamp = this.stamp();
    const now = Date.now();
    for (const [key, k] of this.kept) if (k.stamp !== stamp || now >= k.until) this.kept.delete(key);
  }

  /** Answers kept now. */
  get size(): number {
    return this.kept.size;
  }

  /** Cuts the serialized answer at its holes, each a JSON string `"<mark><n>"`, in order. */
  private split(json: string, holes: number): Buffer[] {
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < holes; i++) {
      const hole = `"${this.mark}${i}"`;
      const at = json.indexOf(hole, from);
      if (at < 0) throw new Error(`kept answer: hole ${i} not found`);
      parts.push(Buffer.from(json.slice(from, at)));
      from = at + hole.length;
    }
    parts.push(Buffer.from(json.slice(from)));
    return parts;
  }
}
