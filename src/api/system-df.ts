// GET /system/df in the shape API ≤ 1.51 clients read (LayersSize, Images, Containers,
// Volumes, BuildCache); `type` (API 1.42) limits the answer to some of them.
import { InvalidParameter } from '../errors.js';
import type { Router } from './router.js';
import { volumeJson } from './volumes.js';
import { listImages } from '../image/list.js';
import type { ImageStore } from '../image/service.js';
import type { ContainerManager } from '../container/service.js';
import { listJson } from '../container/view.js';
import { volumeUsage } from '../system/disk-usage.js';

const TYPES = ['container', 'image', 'volume', 'build-cache'];

export function registerSystemDfRoutes(router: Router): void {
  router.get('/system/df', async ({ engine, query }) => {
    const types = query.getAll('type');
    for (const t of types) if (!TYPES.includes(t)) throw new InvalidParameter(`unknown object type: ${t}`);
    const want = (t: string) => types.length === 0 || types.includes(t);
    const out: Record<string, unknown> = {};

    if (want('image')) {
      const store = engine.images as unknown as ImageStore;
      out.LayersSize = store.layers.all().reduce((n, l) => n + l.size, 0);
      out.Images = listImages(store, { all: false, filters: new Map(), sharedSize: true, containerCount: true });
    }
    if (want('container')) {
      const manager = engine.containers as unknown as ContainerManager;
      const records = await manager.list();
      out.Containers = await Promise.all(records.map((r) => listJson(manager.ctx, r, true)));
    }
    if (want('volume')) {
      out.Volumes = (await volumeUsage(engine)).map((u) => ({
        ...volumeJson(u.volume),
        UsageData: { Size: u.size, RefCount: u.refCount },
      }));
    }
    if (want('build-cache')) out.BuildCache = [];
    return out;
  });
}
