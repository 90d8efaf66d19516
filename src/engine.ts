// The engine: every service the API calls, built once by daemon.ts (the composition root), with
// named, typed fields only. api/ handlers reach services only through this object; rooms below
// api/ never see it and declare the small interfaces they consume instead.
import type { MetaDb } from './meta/db.js';
import type { Logger } from './util/log.js';
import type { DriverName, Snapshotter } from './snapshot/snapshotter.js';
import type { ImageStore } from './image/service.js';
import type { ContainerManager } from './container/service.js';
import type { VolumeService } from './volume/types.js';
import type { EventBus } from './system/events.js';
import type { Activity } from './system/activity.js';
import type { UsageCache } from './system/usage-cache.js';
import type { BuilderService } from './builder/service.js';
import type { NetworkService } from './network/service.js';
import type { VolumeBackups } from './backup/service.js';
import type { DistributionService } from './distribution/service.js';

export interface DaemonConfig {
  dataRoot: string;
  /** unix socket path the API listens on. */
  socketPath: string;
  storageDriver: DriverName;
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
  images: ImageStore;
  containers: ContainerManager;
  volumes: VolumeService;
  networks: NetworkService;
  builder: BuilderService;
  /** Volume export/import, backups, restore, clone (Strata's own endpoints). */
  backups: VolumeBackups;
  /** `docker info` SecurityOptions and the daemon's start-time warnings (runtime, seccomp, metrics). */
  security: { options: string[]; warnings: string[] };
  distribution: DistributionService;
  /** API requests in flight (for background work that should wait for quiet). */
  activity: Activity;
  /** Kept sizes of writable layers and volumes (system df, metrics). */
  usageCache: UsageCache;
  /** The daemon's ID (`docker info`), made once and kept in the metadata. */
  daemonId: string;
}
