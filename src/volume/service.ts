import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { EventBus } from '../system/events.js';
import type { VolumeService } from './types.js';
import { NotImplemented } from '../errors.js';

export interface VolumeServiceDeps {
  db: MetaDb;
  dataRoot: string;
  log: Logger;
  events: EventBus;
}

export async function createVolumeService(_deps: VolumeServiceDeps): Promise<VolumeService> {
  const no = async (): Promise<never> => { throw new NotImplemented('volumes are not built yet'); };
  const noSync = (): never => { throw new NotImplemented('volumes are not built yet'); };
  return {
    create: no, get: no, list: async () => [], remove: no, reference: noSync, release: noSync,
    users: () => [], mount: no, unmount: no, populate: no,
  };
}
