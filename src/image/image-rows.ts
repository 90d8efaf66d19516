// What the list and inspect views read of the image store: its rows, layers and configs.
// Declared here, below the store, so the views need not import the store that uses them.
import type { ImageConfig } from './types.js';
import type { ImageDb, ImageRow } from './image-db.js';
import type { LayerRow, LayerStore } from './layer-store.js';

export interface ImageRows {
  readonly rows: ImageDb;
  readonly layers: LayerStore;
  configOf(row: ImageRow): ImageConfig;
  findRow(ref: string): ImageRow;
  layerRowsOf(row: ImageRow): LayerRow[];
  /** Containers using the image. */
  usersOf(imageId: string): string[];
}
