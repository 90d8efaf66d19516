// docker rmi and image prune, after moby's daemon/images/image_delete.go: untag first,
// delete the image when no reference is left, then every layer no image needs any more.
import { Conflict } from '../errors.js';
import type { ImageStore } from './service.js';
import type { ImageRow } from './image-db.js';
import { familiar, isImageIDPrefix, parseNormalizedNamed, repositoryOf, shortID } from './reference.js';
import { heavyOperation } from '../util/release-memory.js';

export interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export interface RemoveOptions {
  force: boolean;
  noprune: boolean;
  /** Whether a container is running (the container service knows; absent = stopped). */
  isRunning: (containerId: string) => boolean;
}

class DeleteConflict extends Conflict {
  constructor(
    id: string,
    readonly hard: boolean,
    readonly used: boolean,
    message: string,
  ) {
    super(`conflict: unable to delete ${shortID(id)} (${hard ? 'cannot be forced' : 'must be forced'}) - ${message}`);
  }
}

const HARD = { child: true, running: true, reference: false, stopped: false };
const SOFT_AND_HARD = { child: true, running: true, reference: true, stopped: true };

function checkConflict(
  store: ImageStore,
  id: string,
  mask: typeof HARD,
  opts: RemoveOptions,
): DeleteConflict | undefined {
  if (mask.child && store.rows.children(id).length > 0)
    return new DeleteConflict(id, true, false, 'image has dependent child images');
  const users = store.usersOf(id);
  if (mask.running) {
    const c = users.find((u) => opts.isRunning(u));
    if (c) return new DeleteConflict(id, true, true, `image is being used by running container ${shortID(c)}`);
  }
  if (mask.reference && store.rows.refsOf(id).length > 0)
    return new DeleteConflict(id, false, false, 'image is referenced in multiple repositories');
  if (mask.stopped) {
    const c = users.find((u) => !opts.isRunning(u));
    if (c) return new DeleteConflict(id, false, true, `image is being used by stopped container ${shortID(c)}`);
  }
  return undefined;
}

/** One tag, or several tags/digests all in one repository. */
function isSingleReference(refs: string[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const tags = refs.filter((r) => !r.includes('@'));
  if (tags.length > 1) return false;
  return new Set(refs.map(repositoryOf)).size === 1;
}

/** `docker rmi`: removing a big image's files leaves dead buffers and freed arena pages, given back once it ends. */
export async function removeImage(store: ImageStore, ref: string, opts: RemoveOptions): Promise<ImageDeleteItem[]> {
  const done = heavyOperation();
  try {
    return await removeImageNow(store, ref, opts);
  } finally {
    done();
  }
}

async function removeImageNow(store: ImageStore, ref: string, opts: RemoveOptions): Promise<ImageDeleteItem[]> {
  return store.lock.run(async () => {
    const row = store.findRow(ref);
    const id = row.id;
    const records: ImageDeleteItem[] = [];
    let refs = store.rows.refsOf(id);
    let removedRepositoryRef = false;
    if (!isImageIDPrefix(id, ref)) {
      if (!opts.force && isSingleReference(refs)) {
        const c = store.usersOf(id)[0];
        if (c)
          throw new Conflict(
            `conflict: unable to remove repository reference "${ref}" (must force) - container ${shortID(c)} is using its referenced image ${shortID(id)}`,
          );
      }
      const parsed = parseNormalizedNamed(ref);
      const full = parsed.digest ? `${parsed.name}@${parsed.digest}` : `${parsed.name}:${parsed.tag ?? 'latest'}`;
      store.rows.deleteRef(full);
      store.deps.events.emitEvent('image', 'untag', id, { name: familiar(full) });
      records.push({ Untagged: familiar(full) });
      refs = store.rows.refsOf(id);
      // The last tag of a repository takes that repository's digest references with it.
      if (!parsed.digest && !refs.some((r) => !r.includes('@') && repositoryOf(r) === parsed.name)) {
        for (const r of refs.filter((x) => x.includes('@') && repositoryOf(x) === parsed.name)) {
          store.rows.deleteRef(r);
          records.push({ Untagged: familiar(r) });
        }
        refs = store.rows.refsOf(id);
      }
      if (refs.length > 0) return records;
      removedRepositoryRef = true;
    } else if (isSingleReference(refs)) {
      const mask = opts.force ? HARD : { ...SOFT_AND_HARD, reference: false };
      const conflict = checkConflict(store, id, mask, opts);
      if (conflict) throw conflict;
      for (const r of refs) {
        store.rows.deleteRef(r);
        store.deps.events.emitEvent('image', 'untag', id, { name: familiar(r) });
        records.push({ Untagged: familiar(r) });
      }
    }
    await deleteHelper(store, row, records, opts, !opts.noprune, removedRepositoryRef);
    return records;
  });
}

async function deleteHelper(
  store: ImageStore,
  row: ImageRow,
  records: ImageDeleteItem[],
  opts: RemoveOptions,
  prune: boolean,
  quiet: boolean,
): Promise<void> {
  const mask = opts.force ? HARD : SOFT_AND_HARD;
  const conflict = checkConflict(store, row.id, mask, opts);
  if (conflict) {
    // moby's imageIsDangling: no references AND no children. A parent that still has another
    // child is not dangling, so pruning the chain stops there quietly.
    const dangling = store.rows.refsOf(row.id).length === 0 && store.rows.children(row.id).length === 0;
    if (quiet && (!dangling || conflict.used)) return;
    throw conflict;
  }
  for (const r of store.rows.refsOf(row.id)) {
    store.rows.deleteRef(r);
    store.deps.events.emitEvent('image', 'untag', row.id, { name: familiar(r) });
    records.push({ Untagged: familiar(r) });
  }
  const removedLayers = await deleteImageRow(store, row);
  store.deps.events.emitEvent('image', 'delete', row.id, {});
  records.push({ Deleted: row.id });
  for (const l of removedLayers) records.push({ Deleted: l });
  if (!prune || !row.parent) return;
  const parent = store.rows.get(row.parent);
  if (parent) await deleteHelper(store, parent, records, { ...opts, force: false }, true, true);
}

/** Drops the image row, then the layers only it used; returns the removed chainIDs (top first). */
export async function deleteImageRow(store: ImageStore, row: ImageRow): Promise<string[]> {
  store.deps.db.transaction(() => {
    store.deps.db.prepare("UPDATE images SET parent = '' WHERE parent = ?").run(row.id);
    store.rows.delete(row.id);
  })();
  store.forgetConfig(row.id);
  return store.layers.releaseUnreferenced(store.rows.referencedChainIDs());
}

export interface PruneOptions {
  all: boolean;
  /** Label and until filters, already evaluated: true = this image may be pruned. */
  match: (row: ImageRow) => boolean;
  isRunning: (containerId: string) => boolean;
}

/** docker image prune: dangling images (or, with all, every image no container uses). */
export async function pruneImages(
  store: ImageStore,
  opts: PruneOptions,
): Promise<{ ImagesDeleted: ImageDeleteItem[] | null; SpaceReclaimed: number }> {
  const before = new Map(store.layers.all().map((l) => [l.chainID, l.size]));
  const deleted: ImageDeleteItem[] = [];
  const candidates = store.rows.all().filter((row) => {
    if (store.usersOf(row.id).length > 0) return false;
    if (!opts.match(row)) return false;
    const refs = store.rows.refsOf(row.id);
    if (!opts.all) return refs.length === 0 && store.rows.children(row.id).length === 0;
    return true;
  });
  for (const row of candidates) {
    if (!store.rows.get(row.id)) continue;
    const refs = store.rows.refsOf(row.id);
    const targets = refs.length ? refs : [row.id.slice(7)];
    for (const t of targets) {
      try {
        deleted.push(...(await removeImage(store, t, { force: false, noprune: false, isRunning: opts.isRunning })));
      } catch {
        // An image that became used or gained children meanwhile stays, as in Docker.
      }
    }
  }
  const after = new Set(store.layers.all().map((l) => l.chainID));
  let reclaimed = 0;
  for (const [chain, size] of before) if (!after.has(chain)) reclaimed += size;
  return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
}
