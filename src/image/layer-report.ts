// What each layer of an image holds and who else holds it: bytes, inodes, how many images share
// the layer (so how much removing this image would really free), and the history line that
// made it. `docker history` shows sizes per step but never which layers are shared.
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { ImageService } from './types.js';
import { chainIDs } from './digest.js';

export interface LayerInfo {
  Index: number;
  DiffID: string;
  ChainID: string;
  Size: number;
  Inodes: number;
  /**
   * Images (this one included) whose layer stack holds this layer, counting the images
   * `docker images` lists, as docker system df's SHARED SIZE does: a build's intermediate
   * images go with the image built on them.
   */
  SharedBy: number;
  CreatedBy: string;
  Created: string;
}

export async function layerReport(images: ImageService, snapshotter: Snapshotter, ref: string): Promise<LayerInfo[]> {
  const image = await images.resolve(ref);
  const diffIDs = image.config.rootfs.diff_ids;
  const chains = chainIDs(diffIDs);
  const all = await images.list();
  const parents = new Set(all.map((i) => i.parent).filter(Boolean));
  const listed = all.filter((i) => i.id === image.id || i.repoTags.length > 0 || !parents.has(i.id));
  const holders = new Map<string, number>();
  for (const other of listed) {
    for (const c of chainIDs(other.config.rootfs.diff_ids)) holders.set(c, (holders.get(c) ?? 0) + 1);
  }
  // Non-empty history entries match the layers in order, as the image spec lays them out.
  const steps = (image.config.history ?? []).filter((h) => !h.empty_layer);
  const out: LayerInfo[] = [];
  for (let i = 0; i < diffIDs.length; i++) {
    const usage = await snapshotter.usage(chains[i]!).catch(() => ({ size: -1, inodes: -1 }));
    out.push({
      Index: i,
      DiffID: diffIDs[i]!,
      ChainID: chains[i]!,
      Size: usage.size,
      Inodes: usage.inodes,
      SharedBy: holders.get(chains[i]!) ?? 1,
      CreatedBy: steps[i]?.created_by ?? '',
      Created: steps[i]?.created ?? '',
    });
  }
  return out;
}
