// `docker build --cache-from IMAGE`, as the classic builder's image cache does it: the images
// named are cache sources, so a build can reuse the steps of an image that came from a pull or
// a load and has no local parent chain. A step is cached when a source's config history,
// after the current image's own history (which it must repeat, layers too), has the step's
// command next; the last such step is the source itself, and an earlier one is restored as an
// image made of the current image plus the source's layer for that step. While sources are
// given, the ordinary local cache counts only for images that are a source or one of its parents.
import type { ImageRecord, HistoryEntry } from '../image/types.js';
import type { BuildImages } from './deps.js';
import type { RunConfig } from './run-config.js';

export type CacheImages = Pick<BuildImages, 'resolve' | 'create' | 'readLayer'>;

export class CacheSources {
  private sources: ImageRecord[] | undefined;

  constructor(
    private readonly images: CacheImages,
    private readonly refs: string[],
  ) {}

  get active(): boolean {
    return this.refs.length > 0;
  }

  /** The named images that exist (dockerd skips the others without failing the build). */
  private async list(): Promise<ImageRecord[]> {
    if (!this.sources) {
      const found = await Promise.all(this.refs.map((r) => this.images.resolve(r).catch(() => undefined)));
      this.sources = found.filter((i): i is ImageRecord => i !== undefined);
    }
    return this.sources;
  }

  /** Whether a local cache hit may be used: it is a source, or a parent of one. */
  async allows(hit: ImageRecord): Promise<boolean> {
    for (const s of await this.list()) {
      let cur: ImageRecord | undefined = s;
      for (let depth = 0; cur && depth < 1000; depth++) {
        if (cur.id === hit.id) return true;
        cur = cur.parent ? await this.images.resolve(cur.parent).catch(() => undefined) : undefined;
      }
    }
    return false;
  }

  /** The cached image for the step that would run `probe` on `parent`, if a source has it. */
  async lookup(parent: ImageRecord | undefined, probe: RunConfig, config: RunConfig): Promise<ImageRecord | undefined> {
    const parentHistory = parent?.config.history ?? [];
    const n = parentHistory.length;
    for (const target of await this.list()) {
      const history = target.config.history ?? [];
      const step = history[n];
      if (!step || !isValidParent(target, parent) || (probe.Cmd ?? []).join(' ') !== (step.created_by ?? '')) continue;
      // Once a source has served a step, the rest of the build follows that source only.
      this.sources = [target];
      if (history.length - 1 === n) return target;
      return this.restore(parent, target, n, config, probe);
    }
    return undefined;
  }

  /** The source's state after step `n`: the parent plus that step's layer (none for a metadata step). */
  private async restore(
    parent: ImageRecord | undefined,
    target: ImageRecord,
    n: number,
    config: RunConfig,
    probe: RunConfig,
  ): Promise<ImageRecord> {
    const history = target.config.history!;
    const step = history[n]!;
    let layer: string | undefined;
    if (!step.empty_layer)
      layer = target.config.rootfs.diff_ids[history.slice(0, n).filter((h) => !h.empty_layer).length];
    return this.images.create({
      parentId: parent?.id,
      layer: layer ? this.images.readLayer(layer) : undefined,
      config: config as never,
      history: { ...step },
      extra: { container_config: probe },
    });
  }
}

/** The source repeats the parent's history and layers, and has more history after them. */
function isValidParent(img: ImageRecord, parent: ImageRecord | undefined): boolean {
  const history = img.config.history ?? [];
  if (history.length === 0) return false;
  const ph = parent?.config.history ?? [];
  const pd = parent?.config.rootfs.diff_ids ?? [];
  if (!parent || (ph.length === 0 && pd.length === 0)) return true;
  if (ph.length >= history.length || pd.length > img.config.rootfs.diff_ids.length) return false;
  return ph.every((h, i) => sameHistory(h, history[i]!)) && pd.every((d, i) => d === img.config.rootfs.diff_ids[i]);
}

const sameHistory = (a: HistoryEntry, b: HistoryEntry): boolean =>
  a.created === b.created &&
  (a.created_by ?? '') === (b.created_by ?? '') &&
  (a.author ?? '') === (b.author ?? '') &&
  (a.comment ?? '') === (b.comment ?? '') &&
  !!a.empty_layer === !!b.empty_layer;
