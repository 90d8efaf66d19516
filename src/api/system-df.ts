// GET /system/df in the shape API ≤ 1.51 clients read (LayersSize, Images, Containers,
// Volumes, BuildCache); `type` (API 1.42) limits the answer to some of them.
import { InvalidParameter } from '../errors.js';
import type { Router } from './router.js';
import { volumeJson } from './volumes.js';
import type { ContainerViews } from '../container/backend.js';
import type { ImageViews } from '../image/backend.js';
import { storageReport, volumeUsage } from '../system/disk-usage.js';

const TYPES = ['container', 'image', 'volume', 'build-cache'];

export function registerSystemDfRoutes(router: Router): void {
  router.get('/system/df', async ({ engine, query }) => {
    const types = query.getAll('type');
    for (const t of types) if (!TYPES.includes(t)) throw new InvalidParameter(`unknown object type: ${t}`);
    const want = (t: string) => types.length === 0 || types.includes(t);
    const out: Record<string, unknown> = {};

    if (want('image')) {
      const imageViews: ImageViews = engine.images;
      const { images, layersSize } = await imageViews.diskUsage();
      out.LayersSize = layersSize;
      out.Images = images;
    }
    if (want('container')) {
      const views: ContainerViews = engine.containers;
      const records = await views.list();
      out.Containers = await Promise.all(records.map((r) => views.summary(r, true)));
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

  // A Strata extension: bytes and inodes of layers, containers and volumes, and the data-root
  // filesystem's free bytes and inodes (`strata system df`).
  router.get('/strata/system/df', async ({ engine }) => storageReport(engine));
}
