// Gives every caller of Snapshotter.usage (inspect --size, ps -s, system df, image sizes) one
// shared, incrementally kept figure: see usage-cache.ts for when it is recomputed.
import type { Snapshotter } from '../snapshot/snapshotter.js';
import { UsageCache } from './usage-cache.js';

export function withUsageCache(inner: Snapshotter): { snapshotter: Snapshotter; cache: UsageCache } {
  const cache = new UsageCache((key, signal) => inner.usage(key, signal));
  const snapshotter: Snapshotter = {
    driver: inner.driver,
    status: () => inner.status(),
    prepare: (key, parent, labels) => inner.prepare(key, parent, labels),
    view: (key, parent, labels) => inner.view(key, parent, labels),
    commit: async (name, key, labels, parent, usage) => {
      cache.invalidate(key);
      cache.invalidate(name);
      await inner.commit(name, key, labels, parent, usage);
    },
    appliesApart: inner.appliesApart,
    mounts: (key) => inner.mounts(key),
    // A walk of the snapshot stops, and none starts, while its directory is being deleted.
    remove: async (key) => {
      const ended = cache.removal(key);
      try {
        await inner.remove(key);
      } finally {
        ended();
      }
    },
    stat: (key) => inner.stat(key),
    // A caller with a signal of its own gets a walk of its own, which only it calls off.
    usage: (key, signal) => (signal ? inner.usage(key, signal) : cache.get(key)),
    walk: (fn) => inner.walk(fn),
    applyTarget: (key) => inner.applyTarget(key),
    diffSource: (key) => inner.diffSource(key),
    graphDriverData: (key, merged) => inner.graphDriverData(key, merged),
    limitSize: (key, bytes) => inner.limitSize(key, bytes),
    cleanup: () => inner.cleanup(),
  };
  return { snapshotter, cache };
}
