// What the container service is built from (daemon.ts hands these over once). Apart from
// service.ts so the room's parts can share them (context.ts) without importing the service.
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { EventBus } from '../system/events.js';
import type { ImageService } from '../image/types.js';
import type { VolumeService } from '../volume/types.js';
import type { SeccompProfile } from '../runtime/seccomp.js';
import type { ContainerNetworking } from '../network/types.js';
import type { LogConfig } from './log-config.js';
import type { InitConfig } from './init-process.js';

export interface ContainerServiceDeps {
  db: MetaDb;
  dataRoot: string;
  execRoot: string;
  snapshotter: Snapshotter;
  images: ImageService;
  volumes: VolumeService;
  log: Logger;
  events: EventBus;
  /** The daemon's default logging (daemon.json `log-driver`/`log-opts`); json-file without options when unset. */
  logConfig?: LogConfig;
  /** The default seccomp profile (Docker's); containers run without a filter when absent. */
  seccompProfile?: SeccompProfile;
  /** The network room (endpoints, ports, DNS); without it the default network is the host's. */
  networking?: ContainerNetworking;
  /** daemon.json `init` and `init-path`. */
  init?: InitConfig;
}
