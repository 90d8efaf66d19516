// The image room's roles at the API boundary, split as moby's router/image/backend.go splits its
// backend: what is known of images, what changes them, and images in and out as archives. Each
// API file names only the role it calls; nothing is optional, so a caller never probes.
// ImageBackend, their sum, is what the engine hands the API (store-backend.ts over the store).
import type { Readable } from 'node:stream';
import type { ImageConfig, ImageService } from './types.js';
import type { ListOptions } from './list.js';
import type { ImageDeleteItem, RemoveOptions } from './remove.js';
import type { LoadOutput } from './load.js';
import type { ImportOptions } from './import.js';
import type { LayerInfo } from './layer-report.js';

export interface ImagePruneOptions {
  /** Every image no container uses, not only dangling ones. */
  all: boolean;
  /** Label and until filters, already evaluated on the image's config: true = may be pruned. */
  match: (config: ImageConfig) => boolean;
  isRunning: (containerId: string) => boolean;
}

export interface ImagePruneReport {
  ImagesDeleted: ImageDeleteItem[] | null;
  SpaceReclaimed: number;
}

/** Images as records and in Docker's JSON (moby's GetImage, Images, ImageHistory). */
export interface ImageViews extends Pick<ImageService, 'resolve' | 'list' | 'diskUsage'> {
  /** GET /images/json; InvalidParameter for a filter Docker does not know. */
  summaries(opts: ListOptions): Record<string, unknown>[];
  /** GET /images/{name}/json, before the API version trims it. */
  inspect(ref: string): Promise<Record<string, unknown>>;
  history(ref: string): Record<string, unknown>[];
  /** Each layer's bytes, inodes and how many images share it. */
  layers(ref: string): Promise<LayerInfo[]>;
}

/** Tags, removal and prune (moby's TagImage, ImageDelete, ImagesPrune), and new images on a parent. */
export interface ImageMutations extends Pick<ImageService, 'create' | 'tag'> {
  remove(ref: string, opts: RemoveOptions): Promise<ImageDeleteItem[]>;
  prune(opts: ImagePruneOptions): Promise<ImagePruneReport>;
}

/** Images in and out as archives (moby's importExportBackend): docker load, save and import. */
export interface ImageArchives {
  load(input: Readable, out: LoadOutput): Promise<void>;
  /**
   * Rejects before any byte when the names select nothing or a layer cannot be given back (its
   * files changed under the store); the tar follows in the stream, which fails if a layer's
   * bytes turn out not to be its diffID's.
   */
  save(names: string[]): Promise<Readable>;
  /** Returns the new image's ID. */
  import(input: Readable, opts: ImportOptions): Promise<string>;
}

export type ImageBackend = ImageViews & ImageMutations & ImageArchives;
