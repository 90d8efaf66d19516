// docker import: one layer from a (possibly compressed) tar, a config built from `--change`
// lines, tagged as asked. Same config shape as Docker's ImportImage.
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../errors.js';
import { applyConfigChanges } from './config-changes.js';
import type { ImageRunConfig } from './types.js';
import type { ImageStore } from './service.js';
import { LayerTx } from './layer-store.js';
import { checkNotAmbiguous, checkTag, parseNormalizedNamed } from './reference.js';
import { containerConfigJson } from './inspect.js';

export interface ImportOptions {
  /** The run config, already built from `changes` (see prepareImport). */
  config?: ImageRunConfig;
  repo?: string;
  tag?: string;
  message?: string;
  changes?: string[];
  platformOs?: string;
}

/** Checks the reference and the `--change` lines before any byte of the upload is read, so errors are plain HTTP errors as in Docker. */
export function prepareImport(opts: ImportOptions): ImportOptions {
  importRef(opts.repo, opts.tag);
  return { ...opts, config: opts.changes?.length ? applyConfigChanges({}, opts.changes) : {} };
}

export function importRef(repo?: string, tag?: string): string | undefined {
  if (!repo) return undefined;
  const r = parseNormalizedNamed(repo);
  if (r.digest) throw new InvalidParameter('cannot import digest reference');
  if (tag) checkTag(tag);
  const full = `${r.name}:${tag || r.tag || 'latest'}`;
  checkNotAmbiguous(full);
  return full;
}

export async function importImage(store: ImageStore, input: Readable, opts: ImportOptions): Promise<string> {
  const ref = importRef(opts.repo, opts.tag);
  const config = opts.config ?? prepareImport(opts).config ?? {};
  const created = new Date().toISOString();
  return store.lock.run(async () => {
    // Flushed by persist(), after the staged copy is deleted (see ImageStore.create).
    const tx = new LayerTx(store.layers, { syncOnce: true });
    try {
      const layer = await store.layers.applyStream(null, input, tx);
      const message = opts.message ?? '';
      const image: Record<string, unknown> = {};
      if (message) image.comment = message;
      image.created = created;
      image.container_config = containerConfigJson({});
      image.docker_version = '20.10.24';
      image.config = containerConfigJson(config);
      image.architecture = 'amd64';
      image.os = opts.platformOs || 'linux';
      image.rootfs = { type: 'layers', diff_ids: [layer.diffID] };
      image.history = [message ? { created, comment: message } : { created }];
      const bytes = Buffer.from(JSON.stringify(image));
      const id = await store.commitImage({ config: bytes, tags: ref ? [ref] : [], tagTime: true }, [layer], tx);
      store.deps.events.emitEvent('image', 'import', id, {});
      return id;
    } catch (err) {
      await tx.rollback();
      throw err;
    }
  });
}
