// What the builder needs of the rest of the engine, declared here so the builder room never
// sees the whole Engine: the image store's verbs, the container service's lifecycle (steps run
// as real containers), the snapshotter (workspaces and step layers) and two directories.
import type { Logger } from '../util/log.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { ImageService } from '../image/types.js';
import type { ContainerBackend } from '../container/backend.js';

export type BuildImages = Pick<ImageService, 'create' | 'list' | 'resolve' | 'tag' | 'readLayer'>;
export type BuildContainers = Pick<
  ContainerBackend,
  'create' | 'start' | 'kill' | 'remove' | 'waitFor' | 'attachOutput' | 'withRootfs'
>;

export interface BuilderDeps {
  /** The data-root: contexts are unpacked under its tmp/. */
  dataRoot: string;
  /** Where workspaces and COPY --from views are mounted. */
  execRoot: string;
  log: Logger;
  snapshotter: Snapshotter;
  images: BuildImages;
  containers: BuildContainers;
  /** Pulls an image FROM names that the store lacks (its progress messages go to `out`). */
  pull?: (ref: string, out: (msg: Record<string, unknown>) => void) => Promise<void>;
}
