import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { EventBus } from '../system/events.js';
import type { ImageService } from './types.js';
import { NotImplemented } from '../errors.js';

export interface ImageServiceDeps {
  db: MetaDb;
  dataRoot: string;
  snapshotter: Snapshotter;
  log: Logger;
  events: EventBus;
}

export async function createImageService(_deps: ImageServiceDeps): Promise<ImageService> {
  const no = async (): Promise<never> => { throw new NotImplemented('images are not built yet'); };
  return { resolve: no, create: no, tag: no, list: async () => [], setContainerUsage() {} };
}
