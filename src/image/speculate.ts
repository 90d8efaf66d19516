// Extracting layers while a docker-archive is still uploading. `docker save` writes the image
// config before the layers, so by the time a layer's bytes arrive its expected diffID and
// parent are usually known. The bytes are written to the ingest (kept for `docker save`) at
// the upload's own speed; once a layer's last byte is in and its digest is the one expected, it
// is extracted from that file on a worker thread while the upload goes on, instead of after
// manifest.json. On any doubt (no config yet, several images, a mismatch, a layer that does not
// apply) the bytes are only staged and the load extracts them afterwards exactly as without this.
//
// A speculative layer is committed under its chainID but gets no row: until the load's
// transaction adopts it, it is listed in LayerStore.pending (and, while it extracts, in
// LayerStore.extracting, which claims the chainID: no other extraction starts on it and a load
// needing it waits). A crash leaves a committed snapshot no row owns, which the startup sweep
// removes; a failed or finished load removes what it did not adopt.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { applyLayerFile } from '../archive/lazy.js';
import type { Mutex } from './mutex.js';
import type { LayerRow, LayerStore, StagedLayer } from './layer-store.js';
import { sha256 } from './digest.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** Layers extracting behind the upload at once, each on its own thread. */
const APPLY_AT_ONCE = 3;

interface Guess {
  diffID: string;
  chainID: string;
  parent: string | null;
  /** Its place in the config's diff_ids. */
  index: number;
}

export class Speculation {
  /** diff_ids of each distinct config seen so far, by file name. */
  private readonly configs = new Map<string, string[]>();
  /** chainIDs this load committed and still owns, oldest first. */
  private readonly mine: string[] = [];
  /** Layers of this load staged so far, by the digest of their bytes. */
  private readonly staged = new Map<string, StagedLayer>();
  /** This load's extractions behind the upload, by chainID: true once the layer is pending. */
  private readonly behind = new Map<string, Promise<boolean>>();
  private readonly jobs: Promise<boolean>[] = [];
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly layers: LayerStore,
    private readonly lock: Mutex,
  ) {}

  /** Remembers a small archive file if it is an image config. */
  noteFile(name: string, data: Buffer): void {
    if (name === 'manifest.json' || name === 'index.json' || name === 'repositories') return;
    if (!name.endsWith('.json') && !name.startsWith('blobs/')) return;
    if (data[0] !== 0x7b) return; // not a JSON object
    let diffIDs: unknown;
    try {
      diffIDs = (JSON.parse(data.toString('utf8')) as { rootfs?: { diff_ids?: unknown } })?.rootfs?.diff_ids;
    } catch {
      return;
    }
    if (!Array.isArray(diffIDs) || diffIDs.some((d) => typeof d !== 'string' || !DIGEST.test(d))) return;
    this.configs.set(name, diffIDs as string[]);
  }

  /**
   * Stages one large archive file; then every layer of the config that is next in layer order
   * and staged (this one, or ones that came before their parent) starts extracting from its
   * staged file behind the upload, on its own thread. A file is taken for a layer only by the
   * digest of its bytes: a wrong guess costs nothing.
   */
  async stage(_name: string, input: Readable): Promise<StagedLayer> {
    const staged = await this.layers.stage(input);
    if (this.configs.size !== 1) return staged;
    if (!this.staged.has(staged.diffID)) this.staged.set(staged.diffID, staged);
    this.advance();
    return staged;
  }

  /** Whether the layer is stored, extracted or being extracted by anyone already. */
  private claimed(chainID: string): boolean {
    const { layers } = this;
    return layers.get(chainID) !== undefined || layers.pending.has(chainID) || layers.extracting.has(chainID);
  }

  /** Starts the extraction of every staged layer whose parents are all there or on their way. */
  private advance(): void {
    const diffIDs = [...this.configs.values()][0]!;
    let parent: string | null = null;
    for (const [index, diffID] of diffIDs.entries()) {
      const chainID: string = parent === null ? diffID : sha256(`${parent} ${diffID}`);
      if (!this.claimed(chainID)) {
        const staged = this.staged.get(diffID);
        if (!staged) return;
        // Only build on layers that are stored or our own, never on another load's pending one.
        const pendingParent = parent !== null && this.layers.pending.get(parent);
        if (pendingParent && pendingParent.owner !== this) return;
        if (parent !== null && this.layers.extracting.has(parent) && !this.behind.has(parent)) return;
        this.extractBehind(staged, { diffID, chainID, parent, index });
      }
      parent = chainID;
    }
  }

  /**
   * Extracts a staged layer while the upload goes on: the upload never waits for the disk's
   * creates, and every layer of the archive can be unpacking at once. Where the snapshotter
   * allows, a layer is prepared without its parent and committed onto it once the parent's own
   * extraction has been (as LayerStore.inLayerOrder does). A layer that does not apply is not
   * an error here: the load extracts it again from its staged bytes and reports what fails.
   */
  private extractBehind(staged: StagedLayer, guess: Guess): void {
    const { layers } = this;
    const parentJob = guess.parent === null ? undefined : this.behind.get(guess.parent);
    const apart = guess.parent !== null && layers.snapshotter.appliesApart;
    const job = (async (): Promise<boolean> => {
      if (!apart && parentJob && !(await parentJob)) return false;
      const release = await this.slot();
      const key = `extract-${randomBytes(8).toString('hex')}`;
      try {
        await layers.snapshotter.prepare(key, apart ? undefined : (guess.parent ?? undefined));
      } catch {
        release();
        return false; // e.g. the parent was removed meanwhile: the load decides under the lock
      }
      try {
        const target = await layers.snapshotter.applyTarget(key);
        // No flush of its own: the load that adopts it flushes all its layers at once before
        // their rows (LayerTx.persist); a crash before leaves a snapshot no row owns.
        const res = await applyLayerFile(staged.path, target.dir, {
          whiteouts: target.whiteouts,
          digest: false, // hashed as it was staged
          sync: false,
          record: true,
        }).finally(release);
        if (apart && parentJob && !(await parentJob)) throw new Error('parent layer not extracted');
        if (layers.get(guess.chainID) || layers.pending.has(guess.chainID)) throw new Error('extracted elsewhere');
        await layers.snapshotter.commit(guess.chainID, key, undefined, apart ? guess.parent! : undefined);
        const row: LayerRow = {
          chainID: guess.chainID,
          diffID: guess.diffID,
          parent: guess.parent,
          size: res.size,
          tarSize: staged.tarSize,
        };
        row.size = await layers.layerSize(guess.chainID, res.diffSize);
        const split = { record: res.record, unfaithful: res.unfaithful };
        layers.pending.set(guess.chainID, { row, owner: this, unsynced: target.dir, split });
        this.mine.push(guess.chainID);
        return true;
      } catch {
        await layers.snapshotter.remove(key).catch(() => {});
        return false;
      }
    })().catch(() => false);
    this.behind.set(guess.chainID, job);
    this.jobs.push(job);
    // Settles once the layer is pending (or given up): a load needing it waits for that, then adopts it.
    const done = job.then(() => {
      if (layers.extracting.get(guess.chainID) === done) layers.extracting.delete(guess.chainID);
    });
    layers.extracting.set(guess.chainID, done);
  }

  /** One of APPLY_AT_ONCE places to extract in; resolves with its release. */
  private slot(): Promise<() => void> {
    return new Promise((resolve) => {
      const take = () => {
        this.running++;
        resolve(() => {
          this.running--;
          this.queue.shift()?.();
        });
      };
      if (this.running < APPLY_AT_ONCE) take();
      else this.queue.push(take);
    });
  }

  /** Removes the layers this load extracted but no transaction adopted, children first. */
  async discard(): Promise<void> {
    await Promise.all(this.jobs);
    if (!this.mine.length) return;
    await this.lock.run(async () => {
      for (const chainID of this.mine.reverse()) {
        if (this.layers.pending.get(chainID)?.owner !== this) continue;
        this.layers.pending.delete(chainID);
        await this.layers.snapshotter.remove(chainID).catch(() => {});
      }
      this.mine.length = 0;
    });
  }
}
