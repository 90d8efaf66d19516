// What disk usage, metrics and the usage warm-up read of the engine: the stores' lists and kept
// sizes. Declared here so the system room never needs the whole Engine (daemon.ts and api/ pass
// theirs, which has all of this).
import type { Logger } from '../util/log.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { ImageService } from '../image/types.js';
import type { ContainerService } from '../container/types.js';
import type { VolumeService } from '../volume/types.js';
import type { EventBus } from './events.js';
import type { Activity } from './activity.js';
import type { UsageCache } from './usage-cache.js';

export interface StorageView {
  config: { dataRoot: string };
  log: Logger;
  events: EventBus;
  activity: Activity;
  snapshotter: Pick<Snapshotter, 'usage'>;
  images: Pick<ImageService, 'list' | 'diskUsage'>;
  containers: Pick<ContainerService, 'list'>;
  volumes: Pick<VolumeService, 'list' | 'diskUsage'>;
  usageCache: UsageCache;
}
