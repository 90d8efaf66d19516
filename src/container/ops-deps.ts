// What the container operations beside the service (cp, diff, export, commit) read of the
// engine. Declared here so they never need the whole Engine; api/ passes its own.
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { ImageService } from '../image/types.js';
import type { EventBus } from '../system/events.js';
import type { ContainerManager } from './service.js';

export interface ContainerOpsDeps {
  config: { dataRoot: string };
  containers: Pick<ContainerManager, 'get' | 'withRootfs' | 'withRootfsTree'>;
  snapshotter: Pick<Snapshotter, 'diffSource'>;
  images: Pick<ImageService, 'create'>;
  events: Pick<EventBus, 'emitEvent'>;
}
