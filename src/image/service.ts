// The image service: image configs, tags and layers, built on the content store, the layer
// store and the snapshotter. Image ID = sha256 of the exact config bytes stored.
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { DockerEvent, EventBus } from '../system/events.js';
import type { HistoryEntry, ImageConfig, ImageRecord, ImageService, NewImageOptions } from './types.js';
import { ContentStore } from '../content/store.js';
import { InvalidParameter, NotFound } from '../errors.js';
import { LayerStore, LayerTx, type LayerRow } from './layer-store.js';
import { ImageDb, type ImageRow } from './image-db.js';
import { checkNotAmbiguous, familiar, isImageIDPrefix, normalizeTagged, parseNormalizedNamed } from './reference.js';
import { EMPTY_LAYER_DIFF_ID, isDigest, sha256 } from './digest.js';
import { Mutex } from './mutex.js';
import { listImages } from './list.js';
import type { ImageRows } from './image-rows.js';

export interface ImageServiceDeps {
  db: MetaDb;
  dataRoot: string;
  snapshotter: Snapshotter;
  log: Logger;
  events: EventBus;
}

/** What a new image commits: exact config bytes, the layers under it, and tags. */
export interface ImageCommit {
  config: Buffer;
  parent?: string;
  tags?: string[];
  /** Record Metadata.LastTagTime for the tags (Docker does for tag, commit, build, import; not load). */
  tagTime?: boolean;
}

export class ImageStore implements ImageService, ImageRows {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  readonly rows: ImageDb;
  /** Serialises every change to layers, images and tags (layer reuse vs. layer removal). */
  readonly lock = new Mutex();
  private containerUsers: (imageId: string) => string[] = () => [];
  private readonly configs = new Map<string, ImageConfig>();

  constructor(readonly deps: ImageServiceDeps) {
    this.content = new ContentStore(path.join(deps.dataRoot, 'content'));
    this.layers = new LayerStore(deps.db, this.content, deps.snapshotter, deps.log);
    this.rows = new ImageDb(deps.db);
  }

  setContainerUsage(fn: (imageId: string) => string[]): void {
    this.containerUsers = fn;
  }

  usersOf(imageId: string): string[] {
    return this.containerUsers(imageId);
  }

  configOf(row: ImageRow): ImageConfig {
    let c = this.configs.get(row.id);
    if (!c) {
      c = JSON.parse(row.config.toString('utf8')) as ImageConfig;
      this.configs.set(row.id, c);
    }
    return c;
  }

  /** The parsed config of an image removed goes with it: builds and commits would grow the map forever. */
  forgetConfig(id: string): void {
    this.configs.delete(id);
  }

  /** Parsed configs kept. */
  get configsKept(): number {
    return this.configs.size;
  }

  record(row: ImageRow): ImageRecord {
    const refs = this.rows.refsOf(row.id);
    return {
      id: row.id,
      config: this.configOf(row),
      repoTags: refs.filter((r) => !r.includes('@')).map(familiar),
      repoDigests: refs.filter((r) => r.includes('@')).map(familiar),
      parent: row.parent,
      size: row.size,
      topChainID: row.topChainID ?? undefined,
    };
  }

  /** GetImage: a digest ID, a tag or digest reference, or an ID prefix (in that order). */
  findRow(ref: string): ImageRow {
    const notFound = (shown: string) => new NotFound(`No such image: ${shown}`);
    if (/^sha256:[a-f0-9]{64}$/.test(ref) || /^[a-f0-9]{64}$/.test(ref)) {
      const id = ref.startsWith('sha256:') ? ref : `sha256:${ref}`;
      const row = this.rows.get(id);
      if (row) return row;
      throw notFound(id);
    }
    let normalized: string | undefined;
    try {
      normalized = normalizeTagged(ref);
    } catch (err) {
      // Only a full ID reads as no name (ParseAnyReference); any other bad reference is refused.
      if (!/^(sha256:)?[a-f0-9]{64}$/.test(ref)) throw err;
    }
    if (normalized) {
      const id = this.rows.lookupRef(normalized);
      const row = id ? this.rows.get(id) : undefined;
      if (row) return row;
    }
    if (/^(sha256:)?[a-f0-9]+$/.test(ref)) {
      const matches = this.rows.ids().filter((id) => isImageIDPrefix(id, ref));
      if (matches.length === 1) return this.rows.get(matches[0]!)!;
      if (matches.length > 1) throw notFound(ref);
    }
    throw notFound(normalized ? familiar(normalized) : ref);
  }

  async resolve(ref: string): Promise<ImageRecord> {
    return this.record(this.findRow(ref));
  }

  async list(): Promise<ImageRecord[]> {
    return this.rows.all().map((r) => this.record(r));
  }

  async tag(id: string, ref: string): Promise<void> {
    await this.lock.run(async () => this.tagLocked(this.findRow(id).id, ref));
  }

  /** Tags an image (the tag moves if another image had it); returns the image that lost it. */
  tagLocked(id: string, ref: string): string | undefined {
    const parsed = parseNormalizedNamed(ref);
    if (parsed.digest) throw new InvalidParameter('refusing to create a tag with a digest reference');
    const full = `${parsed.name}:${parsed.tag ?? 'latest'}`;
    checkNotAmbiguous(full);
    const old = this.rows.setRef(full, id, new Date().toISOString());
    this.deps.events.emitEvent('image', 'tag', id, { name: familiar(full) });
    return old;
  }

  /** Writes the image row, its new layer rows and tags in one transaction, once the data is durable. */
  async commitImage(
    c: ImageCommit,
    layers: LayerRow[],
    tx: LayerTx,
    onRetag?: (ref: string, oldId: string) => void,
  ): Promise<string> {
    const id = sha256(c.config);
    await tx.persist();
    const top = layers[layers.length - 1];
    const size = layers.reduce((n, l) => n + l.size, 0);
    this.deps.db.transaction(() => {
      tx.insertRows(this.deps.db);
      this.rows.insert({
        id,
        config: c.config,
        parent: c.parent ?? '',
        topChainID: top?.chainID ?? null,
        size,
        created: Date.now(),
        lastTagTime: '0001-01-01T00:00:00Z',
      });
      const tagTime = c.tagTime ? new Date().toISOString() : undefined;
      for (const t of c.tags ?? []) {
        const old = this.rows.setRef(t, id, tagTime);
        if (old && onRetag) onRetag(t, old);
      }
    })();
    tx.committed();
    return id;
  }

  /** Layer rows of an image, base first. */
  layerRowsOf(row: ImageRow): LayerRow[] {
    const out: LayerRow[] = [];
    let cur = row.topChainID;
    while (cur) {
      const l = this.layers.get(cur);
      if (!l) break;
      out.unshift(l);
      cur = l.parent;
    }
    return out;
  }

  async create(opts: NewImageOptions): Promise<ImageRecord> {
    const id = await this.lock.run(async () => {
      const parentRow = opts.parentId ? this.findRow(opts.parentId) : undefined;
      const parentConfig = parentRow ? this.configOf(parentRow) : undefined;
      // Flushed by persist(), once the layer's staged copy is deleted: a flush inside the apply
      // would write that copy too (as many bytes again as the layer), only for it to be deleted.
      const tx = new LayerTx(this.layers, { syncOnce: true });
      try {
        const base = parentRow ? this.layerRowsOf(parentRow) : [];
        let layers = base;
        let emptyLayer = true;
        if (opts.layer) {
          const row = await this.layers.applyStream(
            parentRow?.topChainID ?? null,
            opts.layer,
            tx,
            undefined,
            opts.layerSize,
          );
          if (row.diffID !== EMPTY_LAYER_DIFF_ID) {
            layers = [...base, row];
            emptyLayer = false;
          } else {
            await tx.rollback();
            tx.newLayers.length = 0;
          }
        }
        const created = opts.history.created ?? new Date().toISOString();
        // Docker's field order: created, created_by, author, comment, empty_layer.
        const history: HistoryEntry = { created };
        if (opts.history.created_by) history.created_by = opts.history.created_by;
        if (opts.history.author) history.author = opts.history.author;
        if (opts.history.comment) history.comment = opts.history.comment;
        if (emptyLayer || opts.history.empty_layer) history.empty_layer = true;
        const config = buildConfig(
          parentConfig,
          opts,
          layers.map((l) => l.diffID),
          history,
          created,
        );
        const bytes = Buffer.from(JSON.stringify(config));
        const tags = opts.tag ? [normalizeTagged(opts.tag)] : [];
        const newId = await this.commitImage({ config: bytes, parent: parentRow?.id, tags, tagTime: true }, layers, tx);
        return newId;
      } catch (err) {
        await tx.rollback();
        throw err;
      }
    });
    return this.resolve(id);
  }

  /** Startup: drop what an interrupted operation left without a row. */
  async recover(): Promise<void> {
    await this.lock.run(async () => {
      await this.layers.sweep();
      // Layers kept only because a container was built on them, once that container is gone.
      await this.layers.releaseUnreferenced(this.rows.referencedChainIDs());
    });
  }

  /** Removes layers no image references any more (e.g. after the last container on a force-deleted image is removed). */
  async releaseUnusedLayers(): Promise<string[]> {
    return this.lock.run(() => this.layers.releaseUnreferenced(this.rows.referencedChainIDs()));
  }

  /**
   * What `docker system df` needs from the image store (daemon/disk_usage.go): the top-level
   * images with SharedSize and Containers filled in, and LayersSize, the size of every stored
   * layer counted once. Sizes are recorded when a layer is registered, so nothing is walked.
   */
  async diskUsage(): Promise<{
    images: Record<string, unknown>[];
    layersSize: number;
    layerCount: number;
    layerIDs: string[];
  }> {
    const images = listImages(this, { all: false, filters: new Map(), sharedSize: true, containerCount: true });
    const layers = this.layers.all();
    return {
      images,
      layersSize: layers.reduce((n, l) => n + l.size, 0),
      layerCount: layers.length,
      layerIDs: layers.map((l) => l.chainID),
    };
  }

  readLayer(diffID: string): Readable {
    if (!isDigest(diffID)) throw new InvalidParameter(`invalid diffID ${diffID}`);
    return this.layers.readTar(diffID);
  }
}

/** The config of a child image, in the field order Docker writes image configs. */
function buildConfig(
  parent: ImageConfig | undefined,
  opts: NewImageOptions,
  diffIDs: string[],
  history: HistoryEntry,
  created: string,
): ImageConfig {
  const extra = opts.extra ?? {};
  const out: Record<string, unknown> = {};
  if (extra.comment !== undefined && extra.comment !== '') out.comment = extra.comment;
  out.created = created;
  if (extra.container) out.container = extra.container;
  if (extra.container_config) out.container_config = extra.container_config;
  out.docker_version = (extra.docker_version as string | undefined) ?? '20.10.24';
  if (extra.author) out.author = extra.author;
  out.config = opts.config;
  out.architecture = parent?.architecture ?? 'amd64';
  if (parent?.variant) out.variant = parent.variant;
  out.os = parent?.os ?? 'linux';
  for (const [k, v] of Object.entries(extra))
    if (!(k in out) && !['comment', 'author', 'container', 'container_config', 'docker_version'].includes(k))
      out[k] = v;
  out.rootfs = { type: 'layers', diff_ids: diffIDs };
  out.history = [...(parent?.history ?? []), history];
  return out as ImageConfig;
}

export async function createImageService(deps: ImageServiceDeps): Promise<ImageStore> {
  const store = new ImageStore(deps);
  await store.recover();
  // A force-deleted image's layers outlive it while a container is built on them; they go
  // when that container does, as in Docker (the snapshot's children decide, not a count).
  deps.events.on('event', (ev: DockerEvent) => {
    if (ev.Type !== 'container' || ev.Action !== 'destroy') return;
    store.releaseUnusedLayers().then(
      (removed) => {
        for (const l of removed) deps.log.debug(`released layer ${l}`);
      },
      (err: Error) => deps.log.warn(`releasing unused layers: ${err.message}`),
    );
  });
  return store;
}
