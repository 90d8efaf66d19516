// `docker system df`: what images, containers, volumes and the build cache hold on disk.
// Every figure comes from kept state — layer sizes recorded when the layer was committed,
// writable layers and volumes through the usage cache (usage-cache.ts) — so a request walks
// only what changed since the last one, where Docker walks every container and volume each time.
import type { Engine } from '../engine.js';
import type { VolumeUsage } from '../volume/types.js';
import { directoryUsage } from '../snapshot/usage.js';
import type { UsageCache } from './usage-cache.js';
import { NotImplemented } from '../errors.js';

export async function volumeUsage(engine: Engine): Promise<VolumeUsage[]> {
  if (!engine.volumes.diskUsage) throw new NotImplemented('volume disk usage is not available');
  const cache = engine.usageCache as UsageCache;
  return engine.volumes.diskUsage(async (name, dir) => (await cache.get(`volume:${name}`, () => directoryUsage(dir))).size);
}
