// An image that arrives as a config and a stream or file per layer (a registry pull): each
// missing layer is applied on its parent through the same confined writer and layer rows as
// `docker load` (LayerStore.applyOffThread: decompressed and hashed on the unpacking thread),
// its diffID checked against the config, and the image row, tags and digest references are
// committed in one transaction. Any failure leaves nothing behind.
//
// A layer's bytes can be had again (the registry keeps the blob), so no staged copy of the tar
// is written: its tar-split record gives it back. The rare layer whose files cannot (a path
// written twice, sparse files...) is applied a second time from bytes opened again, staged,
// and its tar kept whole as a blob.
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../errors.js';
import type { ImageStore } from './service.js';
import { LayerTx, UnfaithfulLayer, type LayerRow } from './layer-store.js';
import { sha256 } from './digest.js';
import type { ImageConfig } from './types.js';

export interface IncomingLayer {
  /**
   * The bytes of the layer as they arrive (plain, gzip or zstd), or the file they were fetched
   * into: the unpacking thread reads that itself (`onProgress` hears how far). `again`: the
   * first bytes were applied already, and are wanted once more (fetched again if need be). A
   * file's `signal` calls its apply off.
   */
  open(
    again?: boolean,
  ): Promise<Readable | { file: string; onProgress?: (bytesRead: number) => void; signal?: AbortSignal }>;
  /** Told once the layer is in the store. */
  applied?(): void;
  /** Its size as sent (a pull: the descriptor's): the largest waiting layer unpacks first. */
  size?: number;
}

/** The diffIDs of a config, checked for shape. */
export function diffIDsOf(config: Buffer): string[] {
  let parsed: ImageConfig;
  try {
    parsed = JSON.parse(config.toString('utf8')) as ImageConfig;
  } catch (err) {
    throw new InvalidParameter(`invalid image config: ${(err as Error).message}`);
  }
  const ids = parsed.rootfs?.diff_ids ?? [];
  if (!Array.isArray(ids) || ids.some((d) => typeof d !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d))) {
    throw new InvalidParameter('invalid image config: bad rootfs.diff_ids');
  }
  return ids;
}

/** chainIDs of a diffID list, base first. */
export function chainIDsOf(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

/**
 * Stores the image; `refs` (normalized tags and name@digest references) point at it afterwards.
 * Returns its ID, how many layers were new, and the image each ref named before. Aborting
 * `signal` while the store's lock is awaited fails at once with its reason.
 */
export async function registerImage(
  store: ImageStore,
  config: Buffer,
  layers: IncomingLayer[],
  refs: string[],
  signal?: AbortSignal,
): Promise<{ id: string; newLayers: number; before: (string | undefined)[] }> {
  const diffIDs = diffIDsOf(config);
  if (diffIDs.length !== layers.length) {
    throw new InvalidParameter(
      `invalid manifest, layers length mismatch: expected ${diffIDs.length}, got ${layers.length}`,
    );
  }
  const chains = chainIDsOf(diffIDs);
  return store.lock.run(async () => {
    const tx = new LayerTx(store.layers, { syncOnce: true });
    try {
      const rows: (LayerRow | undefined)[] = chains.map(
        (chain) => store.layers.get(chain) ?? tx.newLayers.find((l) => l.chainID === chain),
      );
      for (const [i, row] of rows.entries()) if (row) layers[i]!.applied?.();
      // The missing layers unpack several at once where the snapshotter allows; each is
      // committed onto its parent in order (LayerStore.inLayerOrder), the largest first.
      const missing = [...rows.keys()].filter((i) => !rows[i]);
      const sizes = missing.every((i) => layers[i]!.size !== undefined)
        ? missing.map((i) => layers[i]!.size!)
        : undefined;
      await store.layers.inLayerOrder(
        missing.length,
        async (m, after, unpacked) => {
          const i = missing[m]!;
          const parent = i === 0 ? null : chains[i - 1]!;
          const layer = layers[i]!;
          const row = await store.layers
            .applyOffThread(parent, await layer.open(), tx, after, unpacked, { stage: false })
            .catch(async (err: unknown) => {
              if (!(err instanceof UnfaithfulLayer)) throw err;
              return store.layers.applyOffThread(parent, await layer.open(true), tx, after);
            });
          if (row.diffID !== diffIDs[i])
            throw new InvalidParameter(
              `layer ${i}: diffID mismatch: the config says ${diffIDs[i]}, the layer is ${row.diffID}`,
            );
          rows[i] = row;
          layers[i]!.applied?.();
        },
        sizes,
      );
      const id = sha256(config);
      const before = refs.map((r) => store.rows.lookupRef(r));
      const newLayers = tx.newLayers.length;
      await store.commitImage({ config, tags: refs }, rows as LayerRow[], tx);
      return { id, newLayers, before };
    } catch (err) {
      await tx.rollback();
      throw err;
    }
  }, signal);
}

/** Whether the layer with this chainID is already stored. */
export function hasLayer(store: ImageStore, chainID: string): boolean {
  return !!store.layers.get(chainID);
}
