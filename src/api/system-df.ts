// GET /system/df in the shape API ≤ 1.51 clients read (LayersSize, Images, Containers,
// Volumes, BuildCache); `type` (API 1.42) limits the answer to some of them. The answer is
// kept (kept-answer.ts) until something it shows changes.
import { InvalidParameter } from '../errors.js';
import type { Router } from './router.js';
import { volumeJson } from './volumes.js';
import type { ContainerViews } from '../container/backend.js';
import type { ImageViews } from '../image/backend.js';
import type { Engine } from '../engine.js';
import { storageReport, volumeUsage } from '../system/disk-usage.js';
import { KeptAnswers, type LateText } from './kept-answer.js';
import { memoryReleaser } from '../util/release-memory.js';

const TYPES = ['container', 'image', 'volume', 'build-cache'];

const keptAnswers = new WeakMap<Engine, KeptAnswers>();

export function registerSystemDfRoutes(router: Router): void {
  router.get('/system/df', async ({ engine, query, res }) => {
    const types = query.getAll('type');
    for (const t of types) if (!TYPES.includes(t)) throw new InvalidParameter(`unknown object type: ${t}`);
    let kept = keptAnswers.get(engine);
    if (!kept) {
      keptAnswers.set(engine, (kept = new KeptAnswers(engine)));
      // Stale answers go when the daemon gives memory back; held weakly, so an engine that
      // ends (tests start many) takes its answers with it.
      const ref = new WeakRef(kept);
      memoryReleaser.onRelease(() => {
        const answers = ref.deref();
        answers?.dropStale();
        return answers !== undefined;
      });
    }
    // One kept answer per set of types (at most 15), however the query repeats or orders them.
    const key = [...new Set(types)].sort().join(',');
    const body = await kept.get(key, (late) => diskUsage(engine, types, late));
    res!.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
    res!.end(body);
  });

  // A Strata extension: bytes and inodes of layers, containers and volumes, and the data-root
  // filesystem's free bytes and inodes (`strata system df`).
  router.get('/strata/system/df', async ({ engine }) => storageReport(engine));
}

async function diskUsage(engine: Engine, types: string[], late: LateText): Promise<{ value: unknown; until: number }> {
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
    const summaries = await views.summaries(records, true);
    // STATUS ages by itself ("Exited (0) 5 seconds ago"): written afresh into each answer.
    summaries.forEach((s, i) => (s.Status = late(() => views.statusOf(records[i]!))));
    out.Containers = summaries;
  }
  if (want('volume')) {
    out.Volumes = (await volumeUsage(engine)).map((u) => ({
      ...volumeJson(u.volume),
      UsageData: { Size: u.size, RefCount: u.refCount },
    }));
  }
  if (want('build-cache')) out.BuildCache = [];
  return { value: out, until: Infinity };
}
