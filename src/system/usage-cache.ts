// Disk accounting kept current instead of recomputed per request. Docker walks every
// container's writable layer and every volume on each `system df` / `ps -s` (moby#31719:
// minutes on large hosts); Strata walks a directory once and then only again when something
// says it changed:
// - committed layers never change: their figure is cached for good;
// - a stopped container's layer changes only through Strata (start, docker cp, commit…),
//   each of which emits a container event that drops the entry (docker cp in: extract-to-dir);
// - a running container's main process may write at any time: its figure is at most
//   RUNNING_TTL_MS old, and every exec that ends (exec_die) drops it at once;
// - a volume is the same: settled while no container has it mounted, at most RUNNING_TTL_MS
//   old while mounted, and dropped when it is unmounted or when a process or exec of a
//   container that has it mounted ends (another container's exit leaves it be).
//
// Every walk the cache starts can be called off: a snapshot or volume being removed stops its
// own walk (a figure of a tree being deleted is worth nothing, and none is kept for it), and
// the daemon's shutdown stops them all and waits only for them to notice.
import type { EventBus, DockerEvent } from './events.js';
import { directoryUsage } from '../snapshot/usage.js';
import { NotFound, Unavailable } from '../errors.js';

export interface Usage {
  size: number;
  inodes: number;
}

const VOLUME_PREFIX = 'volume:';
/** A volume's key in the cache (snapshots are keyed by their own keys). */
export const volumeKey = (name: string): string => VOLUME_PREFIX + name;

/** How stale a running container's or an in-use volume's figure may be. */
export const RUNNING_TTL_MS = 2_000;

/** Takes the figure of `key`, giving up (rejecting with the signal's reason) once `signal` is aborted. */
export type UsageWalk = (key: string, signal: AbortSignal) => Promise<Usage>;

interface Entry {
  usage: Promise<Usage>;
  at: number;
  /** Only entries of running things expire by age. */
  volatile: boolean;
  walk: AbortController;
}

export class UsageCache {
  private readonly entries = new Map<string, Entry>();
  /** Keys whose content can change behind our back (running containers, mounted volumes). */
  private readonly live = new Set<string>();
  /** Users per live key, for keys several things can hold at once (a volume in many containers). */
  private readonly holders = new Map<string, number>();
  private changes = 0;
  /** Keys being removed, with how many removals of each are under way: no walk starts for them. */
  private readonly removing = new Map<string, number>();
  /** Walks under way, each settling (never rejecting) when its walk ends. */
  private readonly walking = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly compute: UsageWalk,
    private readonly ttlMs = RUNNING_TTL_MS,
  ) {}

  /** The figure for `key`, walking (with `compute`, or the cache's own) only when it is missing or stale. */
  get(key: string, compute?: UsageWalk): Promise<Usage> {
    const e = this.entries.get(key);
    if (e && this.fresh(e)) return e.usage;
    if (this.closed) return Promise.reject(new Unavailable('the daemon is shutting down'));
    if (this.removing.has(key)) return Promise.reject(new NotFound(`${key} is being removed`));
    if (e) this.changes++; // a figure replaced: see `generation`
    const walk = new AbortController();
    const usage = (compute ?? this.compute)(key, walk.signal);
    const entry: Entry = { usage, at: Date.now(), volatile: this.live.has(key), walk };
    this.entries.set(key, entry);
    // A failed walk (the snapshot vanished, the walk was called off) is not remembered.
    const ended = usage.then(
      () => undefined,
      () => {
        if (this.entries.get(key) === entry) this.drop(key);
      },
    );
    this.walking.add(ended);
    void ended.then(() => this.walking.delete(ended));
    return usage;
  }

  /** The figure of the local volume `name` whose data is in `dir`. */
  volume(name: string, dir: string): Promise<Usage> {
    return this.get(volumeKey(name), (_key, signal) => directoryUsage(dir, signal));
  }

  /**
   * `key` is about to be removed: its walk under way is called off, its figure dropped, and no
   * walk of it starts (a read is answered NotFound) until the returned function is called, once
   * the removal has ended, whether it succeeded or not.
   */
  removal(key: string): () => void {
    this.removing.set(key, (this.removing.get(key) ?? 0) + 1);
    this.entries.get(key)?.walk.abort();
    this.drop(key);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const n = (this.removing.get(key) ?? 1) - 1;
      if (n > 0) this.removing.set(key, n);
      else this.removing.delete(key);
      this.drop(key);
    };
  }

  /**
   * The daemon is stopping: every walk under way is called off and no new one starts. Resolves
   * once each has noticed and ended, which is at its next directory, not the end of its tree.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.entries.values()) e.walk.abort();
    await Promise.all([...this.walking]);
  }

  /** Whether a figure for `key` is at hand (taken, or being taken, and not stale). */
  has(key: string): boolean {
    const e = this.entries.get(key);
    return !!e && this.fresh(e);
  }

  /** Only entries of running things expire, by age. */
  private fresh(e: Entry): boolean {
    return !(e.volatile && Date.now() - e.at > this.ttlMs);
  }

  /**
   * A count that moves whenever a figure is dropped or replaced. An answer built from the
   * figures stays right while it stands still (and until `settledUntil`): a figure taken where
   * there was none is one that answer's own reads took, or one for a key it did not show.
   */
  get generation(): number {
    return this.changes;
  }

  /** When the first figure of a running thing expires by age (Infinity while none is held). */
  settledUntil(): number {
    let until = Infinity;
    for (const e of this.entries.values()) if (e.volatile) until = Math.min(until, e.at + this.ttlMs);
    return until;
  }

  private drop(key: string): void {
    if (this.entries.delete(key)) this.changes++;
  }

  invalidate(key: string): void {
    this.drop(key);
  }

  /** Marks a key as changing on its own (running) or settled (stopped); either way the next read walks again. */
  setLive(key: string, live: boolean): void {
    if (live) this.live.add(key);
    else this.live.delete(key);
    this.drop(key);
  }

  /** Counts one more (or one fewer) user of a shared key; live while any holds it. */
  hold(key: string, delta: 1 | -1): void {
    const n = Math.max(0, (this.holders.get(key) ?? 0) + delta);
    if (n) this.holders.set(key, n);
    else this.holders.delete(key);
    this.setLive(key, n > 0);
  }

  invalidateWhere(pred: (key: string) => boolean): void {
    for (const k of [...this.entries.keys()]) if (pred(k)) this.drop(k);
  }
}

/** Container events that mean the writable layer may have changed, or its liveness did. */
const STARTS = new Set(['start', 'restart', 'unpause']);
const STOPS = new Set(['die', 'kill', 'stop', 'destroy', 'pause']);

/**
 * Keeps `cache` (keyed by snapshot key) in step with container events; `keyOf` maps a
 * container ID to its writable layer's snapshot key. Volume entries (keyed `volume:<name>`)
 * are dropped when a process of a container that has the volume mounted ends, since that is
 * when its writes settle; the volume events say which container mounts which volume.
 */
export function followContainerEvents(
  events: EventBus,
  cache: UsageCache,
  keyOf: (containerId: string) => string,
): void {
  /** Volume names each container has mounted, with how many mounts of each (start, docker cp). */
  const mounted = new Map<string, Map<string, number>>();
  const track = (container: string | undefined, volume: string, delta: 1 | -1) => {
    if (!container) return;
    const vols = mounted.get(container) ?? new Map<string, number>();
    const n = (vols.get(volume) ?? 0) + delta;
    if (n > 0) vols.set(volume, n);
    else vols.delete(volume);
    if (vols.size) mounted.set(container, vols);
    else mounted.delete(container);
  };
  events.on('event', (e: DockerEvent) => {
    if (e.Type === 'volume') {
      // A mounted volume can be written by its containers at any time: live while mounted.
      const key = volumeKey(e.Actor.ID);
      const container = e.Actor.Attributes?.container;
      if (e.Action === 'mount') {
        cache.hold(key, 1);
        track(container, e.Actor.ID, 1);
      } else if (e.Action === 'unmount') {
        cache.hold(key, -1);
        track(container, e.Actor.ID, -1);
      } else if (e.Action === 'destroy') {
        // Removed: a walk of it still under way stops, and no figure is kept for the name.
        cache.removal(key)();
      } else cache.invalidate(key);
      return;
    }
    if (e.Type !== 'container' || !e.Actor.ID) return;
    const key = keyOf(e.Actor.ID);
    if (STARTS.has(e.Action)) cache.setLive(key, true);
    else if (STOPS.has(e.Action)) cache.setLive(key, false);
    else cache.invalidate(key);
    // docker cp may have written into a mounted volume as well as into the layer. Only this
    // container's volumes can have changed: the others keep their figures (each walk of a
    // large volume costs a full directory walk).
    if (e.Action === 'die' || e.Action.startsWith('exec_die') || e.Action === 'extract-to-dir')
      for (const name of mounted.get(e.Actor.ID)?.keys() ?? []) cache.invalidate(volumeKey(name));
    if (e.Action === 'destroy') mounted.delete(e.Actor.ID);
  });
}
