// The engine: every service the API calls, built once by daemon.ts (the composition root), with
// named, typed fields only. api/ handlers reach services only through this object; rooms below
// api/ never see it and declare the small interfaces they consume instead.
import type { MetaDb } from './meta/db.js';
import type { Logger } from './util/log.js';
import type { DriverName, Snapshotter } from './snapshot/snapshotter.js';
import type { ImageBackend } from './image/backend.js';
import type { ContainerBackend } from './container/backend.js';
import type { VolumeService } from './volume/types.js';
import type { EventBus } from './system/events.js';
import type { Activity } from './system/activity.js';
import type { UsageCache } from './system/usage-cache.js';
import type { BuildBackend } from './builder/backend.js';
import type { NetworkBackend } from './network/backend.js';
import type { BackupBackend } from './backup/backend.js';
import type { DistributionBackend } from './distribution/backend.js';
import type { Deferred } from './util/deferred.js';

export interface DaemonConfig {
  dataRoot: string;
  /** unix socket path the API listens on. */
  socketPath: string;
  storageDriver: DriverName;
  /** Where runc state and container runtime files live (tmpfs in production). */
  execRoot: string;
  logLevel: string;
  /** The default log driver (daemon.json `log-driver`), /info's LoggingDriver. */
  logDriver: string;
}

export interface Engine {
  config: DaemonConfig;
  db: MetaDb;
  log: Logger;
  events: EventBus;
  snapshotter: Snapshotter;
  images: ImageBackend;
  containers: ContainerBackend;
  volumes: VolumeService;
  networks: NetworkBackend;
  /** Loaded at its first call, like backups and distribution (util/deferred.ts). */
  builder: Deferred<BuildBackend>;
  /** Volume export/import, backups, restore, clone (Strata's own endpoints). */
  backups: Deferred<BackupBackend>;
  /** `docker info` SecurityOptions and the daemon's start-time warnings (runtime, seccomp, metrics). */
  security: { options: string[]; warnings: string[] };
  distribution: Deferred<DistributionBackend>;
  /** API requests in flight (for background work that should wait for quiet). */
  activity: Activity;
  /** Kept sizes of writable layers and volumes (system df, metrics). */
  usageCache: UsageCache;
  /** The daemon's ID (`docker info`), made once and kept in the metadata. */
  daemonId: string;
}
