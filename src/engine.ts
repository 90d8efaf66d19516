// The engine: every service the API calls, built once by daemon.ts. api/ handlers reach
// services only through this object, so the dependency arrows stay pointing down.
import type { MetaDb } from './meta/db.js';
import type { Logger } from './util/log.js';
import type { Snapshotter } from './snapshot/snapshotter.js';
import type { ImageService } from './image/types.js';
import type { ContainerService } from './container/types.js';
import type { VolumeService } from './volume/types.js';
import type { EventBus } from './system/events.js';
import type { Activity } from './system/activity.js';
import type { BuilderService } from './builder/service.js';
import type { DistributionService } from './distribution/service.js';

export interface DaemonConfig {
  dataRoot: string;
  /** unix socket path the API listens on. */
  socketPath: string;
  storageDriver: 'overlay2' | 'vfs';
  /** Where runc state and container runtime files live (tmpfs in production). */
  execRoot: string;
  logLevel: string;
}

export interface Engine {
  config: DaemonConfig;
  db: MetaDb;
  log: Logger;
  events: EventBus;
  snapshotter: Snapshotter;
  images: ImageService;
  containers: ContainerService;
  volumes: VolumeService;
  builder: BuilderService;
  distribution: DistributionService;
  /** API requests in flight (for background work that should wait for quiet). */
  activity?: Activity;
  /** Extra services rooms add (image store internals, exec registry…), keyed by room. */
  [room: string]: unknown;
}
