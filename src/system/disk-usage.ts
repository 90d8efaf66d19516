// `docker system df`: what images, containers, volumes and the build cache hold on disk.
// Every figure comes from kept state — layer sizes recorded when the layer was committed,
// writable layers and volumes through the usage cache (usage-cache.ts) — so a request walks
// only what changed since the last one, where Docker walks every container and volume each time.
import type { Engine } from '../engine.js';
import type { VolumeRecord } from '../volume/types.js';
import { directoryUsage } from '../snapshot/usage.js';
import type { UsageCache } from './usage-cache.js';

export interface VolumeUsage {
  volume: VolumeRecord;
  size: number;
  refCount: number;
}

/** Docker lists only local volumes without driver options in df (their size is a plain directory walk). */
export function countsInDiskUsage(v: VolumeRecord): boolean {
  return v.driver === 'local' && Object.keys(v.options ?? {}).length === 0;
}

export async function volumeUsage(engine: Engine): Promise<VolumeUsage[]> {
  const cache = engine.usageCache as UsageCache | undefined;
  const volumes = (await engine.volumes.list()).filter(countsInDiskUsage);
  return Promise.all(volumes.map(async (volume) => {
    const key = `volume:${volume.name}`;
    let size = -1;
    try {
      size = (await (cache ? cache.get(key, () => directoryUsage(volume.mountpoint)) : directoryUsage(volume.mountpoint))).size;
    } catch { /* removed while counting: Docker reports -1 for an unknown size */ }
    return { volume, size, refCount: engine.volumes.users(volume.name).length };
  }));
}
