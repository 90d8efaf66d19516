// Gives every caller of Snapshotter.usage (inspect --size, ps -s, system df, image sizes) one
// shared, incrementally kept figure: see usage-cache.ts for when it is recomputed.
import type { Snapshotter } from '../snapshot/snapshotter.js';
import { UsageCache } from './usage-cache.js';

export function withUsageCache(inner: Snapshotter): { snapshotter: Snapshotter; cache: UsageCache } {
  const cache = new UsageCache((key) => inner.usage(key));
  const snapshotter: Snapshotter = {
    driver: inner.driver,
    status: () => inner.status(),
    prepare: (key, parent, labels) => inner.prepare(key, parent, labels),
    view: (key, parent, labels) => inner.view(key, parent, labels),
    commit: async (name, key, labels, parent) => {
      cache.invalidate(key);
      cache.invalidate(name);
      await inner.commit(name, key, labels, parent);
    },
    appliesApart: inner.appliesApart,
    mounts: (key) => inner.mounts(key),
    remove: async (key) => {
      cache.invalidate(key);
      await inner.remove(key);
    },
    stat: (key) => inner.stat(key),
    usage: (key) => cache.get(key),
    walk: (fn) => inner.walk(fn),
    applyTarget: (key) => inner.applyTarget(key),
    diffSource: (key) => inner.diffSource(key),
    graphDriverData: (key, merged) => inner.graphDriverData(key, merged),
    limitSize: (key, bytes) => inner.limitSize(key, bytes),
    cleanup: () => inner.cleanup(),
  };
  return { snapshotter, cache };
}
