// The image roles of backend.ts over the image store. The store's verbs for load, save, import,
// remove and prune live in their own files, which take the store itself; the store cannot name
// them without an import circle, so this thin layer above both is what the engine hands the API.
import type { Readable } from 'node:stream';
import type { ImageStore } from './service.js';
import type { ImageBackend, ImagePruneOptions, ImagePruneReport } from './backend.js';
import type { ImageRecord, NewImageOptions } from './types.js';
import { listImages, type ListOptions } from './list.js';
import { imageHistory, inspectImage } from './inspect.js';
import { pruneImages, removeImage, type ImageDeleteItem, type RemoveOptions } from './remove.js';
import type { LoadOutput } from './load.js';
import type { ImportOptions } from './import.js';
import { layerReport, type LayerInfo } from './layer-report.js';

export class ImageStoreBackend implements ImageBackend {
  constructor(private readonly store: ImageStore) {}

  resolve(ref: string): Promise<ImageRecord> {
    return this.store.resolve(ref);
  }
  list(): Promise<ImageRecord[]> {
    return this.store.list();
  }
  diskUsage(): ReturnType<ImageStore['diskUsage']> {
    return this.store.diskUsage();
  }
  summaries(opts: ListOptions): Record<string, unknown>[] {
    return listImages(this.store, opts);
  }
  inspect(ref: string): Promise<Record<string, unknown>> {
    return inspectImage(this.store, this.store.findRow(ref));
  }
  history(ref: string): Record<string, unknown>[] {
    return imageHistory(this.store, this.store.findRow(ref));
  }
  layers(ref: string): Promise<LayerInfo[]> {
    return layerReport(this.store, this.store.deps.snapshotter, ref);
  }

  create(opts: NewImageOptions): Promise<ImageRecord> {
    return this.store.create(opts);
  }
  tag(id: string, ref: string): Promise<void> {
    return this.store.tag(id, ref);
  }
  remove(ref: string, opts: RemoveOptions): Promise<ImageDeleteItem[]> {
    return removeImage(this.store, ref, opts);
  }
  prune(opts: ImagePruneOptions): Promise<ImagePruneReport> {
    return pruneImages(this.store, {
      all: opts.all,
      isRunning: opts.isRunning,
      match: (row) => opts.match(this.store.configOf(row)),
    });
  }

  // load, save and import, with the tar reading and writing under them, are loaded at their
  // first call: a daemon's start does without them.
  async load(input: Readable, out: LoadOutput): Promise<void> {
    const { loadImages } = await import('./load.js');
    return loadImages(this.store, input, out);
  }
  async save(names: string[]): Promise<Readable> {
    const { checkSaveable, saveImages, selectImages } = await import('./save.js');
    const assocs = selectImages(this.store, names);
    await checkSaveable(this.store, assocs);
    return saveImages(this.store, assocs);
  }
  async import(input: Readable, opts: ImportOptions): Promise<string> {
    const { importImage } = await import('./import.js');
    return importImage(this.store, input, opts);
  }
}
