import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { EventBus } from '../system/events.js';
import type { ImageService } from '../image/types.js';
import type { VolumeService } from '../volume/types.js';
import type { ContainerService } from './types.js';
import { NotImplemented } from '../errors.js';

export interface ContainerServiceDeps {
  db: MetaDb;
  dataRoot: string;
  execRoot: string;
  snapshotter: Snapshotter;
  images: ImageService;
  volumes: VolumeService;
  log: Logger;
  events: EventBus;
}

export async function createContainerService(_deps: ContainerServiceDeps): Promise<ContainerService> {
  const no = async (): Promise<never> => { throw new NotImplemented('containers are not built yet'); };
  return { get: no, list: async () => [], usersOfImage: () => [], withRootfs: no };
}
