// `docker system df`: what images, containers, volumes and the build cache hold on disk.
// Every figure comes from kept state — layer sizes recorded when the layer was committed,
// writable layers and volumes through the usage cache (usage-cache.ts) — so a request walks
// only what changed since the last one, where Docker walks every container and volume each time.
import type { StorageView } from './storage-view.js';
import type { VolumeUsage } from '../volume/types.js';
import { statfsSync } from 'node:fs';

export async function volumeUsage(engine: StorageView): Promise<VolumeUsage[]> {
  const cache = engine.usageCache;
  return engine.volumes.diskUsage(async (name, dir) => (await cache.volume(name, dir)).size);
}

/** Size and free bytes and inodes of the data-root's filesystem. */
export function dataRootFilesystem(dataRoot: string): {
  Size: number;
  Free: number;
  Inodes: number;
  InodesFree: number;
} {
  const fs = statfsSync(dataRoot);
  return { Size: fs.blocks * fs.bsize, Free: fs.bavail * fs.bsize, Inodes: fs.files, InodesFree: fs.ffree };
}

export interface StorageReport {
  DataRoot: { Path: string; Size: number; Free: number; Inodes: number; InodesFree: number };
  Layers: { Count: number; Size: number; Inodes: number };
  Containers: { Id: string; Name: string; Image: string; State: string; Size: number; Inodes: number }[];
  Volumes: { Name: string; RefCount: number; Size: number; Inodes: number }[];
}

/**
 * Bytes and inodes of everything Strata keeps, and the data-root filesystem's free bytes and
 * inodes: `docker system df` shows no inodes, yet a full inode table stops a host as surely as
 * a full disk (moby#37077). Figures come from the usage cache; layers are walked once each.
 */
export async function storageReport(engine: StorageView): Promise<StorageReport> {
  const cache = engine.usageCache;
  const { layersSize, layerIDs } = await engine.images.diskUsage();
  let layerInodes = 0;
  for (const id of layerIDs) layerInodes += (await engine.snapshotter.usage(id).catch(() => ({ inodes: 0 }))).inodes;
  const containers: StorageReport['Containers'] = [];
  for (const c of await engine.containers.list()) {
    const u = await engine.snapshotter.usage(c.snapshotKey).catch(() => ({ size: -1, inodes: -1 }));
    containers.push({
      Id: c.id,
      Name: c.name,
      Image: c.imageRef,
      State: c.state.Status,
      Size: u.size,
      Inodes: u.inodes,
    });
  }
  const volumes: StorageReport['Volumes'] = [];
  const inodes = new Map<string, number>();
  for (const v of await engine.volumes.diskUsage(async (name, dir) => {
    const u = await cache.volume(name, dir);
    inodes.set(name, u.inodes);
    return u.size;
  }))
    volumes.push({ Name: v.volume.name, RefCount: v.refCount, Size: v.size, Inodes: inodes.get(v.volume.name) ?? -1 });
  return {
    DataRoot: { Path: engine.config.dataRoot, ...dataRootFilesystem(engine.config.dataRoot) },
    Layers: { Count: layerIDs.length, Size: layersSize, Inodes: layerInodes },
    Containers: containers,
    Volumes: volumes,
  };
}
