// What the container operations beside the service (cp, diff, export, commit) read of the
// engine. Declared here so they never need the whole Engine; the container service passes its own.
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { ImageService } from '../image/types.js';
import type { EventBus } from '../system/events.js';
import type { ContainerService } from './types.js';

export interface ContainerOpsDeps {
  config: { dataRoot: string };
  containers: Pick<ContainerService, 'get' | 'withRootfs' | 'withRootfsTree' | 'tornDown'>;
  snapshotter: Pick<Snapshotter, 'diffSource'>;
  images: Pick<ImageService, 'create'>;
  events: Pick<EventBus, 'emitEvent'>;
}
