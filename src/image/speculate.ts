// Extracting layers while a docker-archive is still uploading. `docker save` writes the image
// config before the layers, so by the time a layer's bytes arrive its expected diffID and
// parent are usually known: the bytes are then written to the ingest (kept for `docker save`)
// and applied onto a snapshot in the same pass, instead of being read back and extracted
// after manifest.json. The guess is checked against the diffID the bytes actually hash to;
// on any doubt (no config yet, several images, a mismatch, a layer that does not apply) the
// bytes are only staged and the load extracts them afterwards exactly as without this.
//
// A speculative layer is committed under its chainID (under the image lock, so two loads
// never both claim one) but gets no row: until the load's transaction adopts it, it is
// listed in LayerStore.pending. A crash leaves a committed snapshot no row owns, which the
// startup sweep removes; a failed or finished load removes what it did not adopt.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { applyLayer } from '../archive/index.js';
import type { Mutex } from './mutex.js';
import type { LayerRow, LayerStore, StagedLayer } from './layer-store.js';
import { decompressStream } from './decompress.js';
import { sha256 } from './digest.js';
import { noSpaceAt } from '../util/no-space.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

interface Guess {
  diffID: string;
  chainID: string;
  parent: string | null;
  /** Its place in the config's diff_ids. */
  index: number;
}

const V1_JSON = /^([a-f0-9]{64})\/json$/;
const V1_LAYER = /^([a-f0-9]{64})\/layer\.tar$/;

export class Speculation {
  /** diff_ids of each distinct config seen so far, by file name. */
  private readonly configs = new Map<string, string[]>();
  /** chainIDs this load committed and still owns, oldest first. */
  private readonly mine: string[] = [];
  private stopped = false;
  /**
   * docker save's `<v1 id>/json` files, read before their layer.tar: each names its parent's v1
   * id (none for the base layer). Docker 20.10 writes the layer directories sorted by that id,
   * not in layer order: with these, a layer whose place is not next is only staged, and the
   * guess is not given up for the layers after it.
   */
  private readonly v1Parents = new Map<string, string | null>();
  /** v1 ids of the layers this load extracted, with their place in the config. */
  private readonly v1Placed = new Map<string, number>();

  constructor(
    private readonly layers: LayerStore,
    private readonly lock: Mutex,
  ) {}

  /** Remembers a small archive file if it is an image config. */
  noteFile(name: string, data: Buffer): void {
    const v1 = V1_JSON.exec(name);
    if (v1) {
      try {
        const parent = (JSON.parse(data.toString('utf8')) as { parent?: unknown }).parent;
        this.v1Parents.set(v1[1]!, typeof parent === 'string' && parent !== '' ? parent : null);
      } catch {
        // not a v1 layer description: no hint
      }
      return;
    }
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

  /** Stages one large archive file, extracting it in the same pass when it is the expected next layer. */
  async stage(name: string, input: Readable): Promise<StagedLayer> {
    const guess = this.guess(name);
    if (!guess) return this.layers.stage(input);
    const v1 = V1_LAYER.exec(name)?.[1];
    if (v1 !== undefined && this.v1Parents.has(v1)) {
      const parent = this.v1Parents.get(v1)!;
      const place = parent === null ? 0 : this.v1Placed.has(parent) ? this.v1Placed.get(parent)! + 1 : -1;
      if (place !== guess.index) return this.layers.stage(input); // not the next layer: no extraction wasted
    }
    const { staged, row } = await this.stageApplying(input, guess);
    if (row && v1 !== undefined) this.v1Placed.set(v1, guess.index);
    if (!row) this.stopped = true; // archive order is not layer order: one wasted extraction is enough
    return staged;
  }

  /**
   * The layer the next stream most likely is: the one its name gives (OCI blobs are named by
   * digest), else the first one of the only config that is neither stored nor extracted yet.
   */
  private guess(name: string): Guess | undefined {
    if (this.stopped || this.configs.size !== 1) return undefined;
    const diffIDs = [...this.configs.values()][0]!;
    const named = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
    let parent: string | null = null;
    for (const [index, diffID] of diffIDs.entries()) {
      const chainID: string = parent === null ? diffID : sha256(`${parent} ${diffID}`);
      const present = this.layers.get(chainID) !== undefined || this.layers.pending.has(chainID);
      if (!present && (!named || `sha256:${named[1]}` === diffID)) {
        // Only build on layers that are stored or our own, never on another load's pending one.
        const pendingParent = parent !== null && this.layers.pending.get(parent);
        if (pendingParent && pendingParent.owner !== this) return undefined;
        return { diffID, chainID, parent, index };
      }
      if (!present) return undefined; // the named layer's parent is not there yet
      parent = chainID;
    }
    return undefined;
  }

  private async stageApplying(input: Readable, guess: Guess): Promise<{ staged: StagedLayer; row?: LayerRow }> {
    const { layers } = this;
    const w = await layers.content.writer();
    const key = `extract-${randomBytes(8).toString('hex')}`;
    let applying: Promise<unknown> = Promise.resolve();
    const feed = new PassThrough({ highWaterMark: 1 << 20 });
    try {
      await layers.snapshotter.prepare(key, guess.parent ?? undefined);
    } catch {
      // e.g. the parent was removed meanwhile: the regular path decides under the lock.
      await w.abort();
      return { staged: await layers.stage(input) };
    }
    try {
      const target = await layers.snapshotter.applyTarget(key);
      let failed = false;
      // A layer that does not apply is not an error yet: it may be no layer of this image at
      // all. Its bytes are still staged, and the regular path decides.
      // No flush of its own: the load that adopts it flushes all its layers at once before
      // their rows (LayerTx.persist); a crash before leaves a snapshot no row owns.
      const applied = applyLayer(feed, target.dir, { whiteouts: target.whiteouts, digest: false, sync: false }); // the ingest hashes
      let over = false; // the extraction stopped taking bytes (failed, or the tar ended early)
      applying = applied
        .catch(() => {
          failed = true;
          feed.destroy();
        })
        .finally(() => {
          over = true;
        });
      const settled = applying.then(() => undefined);
      for await (const chunk of decompressStream(input) as AsyncIterable<Buffer>) {
        // The ingest write (on the thread pool) runs while the chunk is being extracted.
        // Settles without rejecting: a write failing (a full disk) while we wait for the drain
        // must not be an unhandled rejection, which would end the daemon.
        const write = w.write(chunk).then(
          () => undefined,
          (err: unknown) => noSpaceAt(err, w.path),
        );
        if (!over && !feed.write(chunk)) await Promise.race([once(feed, 'drain').catch(() => {}), settled]);
        const failedWrite = await write;
        if (failedWrite) throw failedWrite;
      }
      feed.end();
      await applying;
      const staged: StagedLayer = { diffID: w.digest(), tarSize: w.size, path: w.path, writer: w };
      if (failed) return { staged: await this.drop(key, staged) };
      const res = await applied;
      if ((res.diffID && res.diffID !== staged.diffID) || staged.diffID !== guess.diffID)
        return { staged: await this.drop(key, staged) };
      const row = await this.lock.run(async () => {
        if (layers.get(guess.chainID) || layers.pending.has(guess.chainID)) return undefined;
        await layers.snapshotter.commit(guess.chainID, key);
        const r: LayerRow = {
          chainID: guess.chainID,
          diffID: guess.diffID,
          parent: guess.parent,
          size: res.size,
          tarSize: staged.tarSize,
        };
        layers.pending.set(guess.chainID, { row: r, owner: this, unsynced: target.dir });
        this.mine.push(guess.chainID);
        r.size = await layers.layerSize(guess.chainID, res.size, w.path);
        return r;
      });
      if (!row) return { staged: await this.drop(key, staged) };
      return { staged, row };
    } catch (err) {
      feed.destroy(err as Error); // stops the extraction before its snapshot goes
      input.destroy();
      await applying;
      await layers.snapshotter.remove(key).catch(() => {});
      await w.abort();
      throw err;
    }
  }

  private async drop(key: string, staged: StagedLayer): Promise<StagedLayer> {
    await this.layers.snapshotter.remove(key).catch(() => {});
    return staged;
  }

  /** Removes the layers this load extracted but no transaction adopted, children first. */
  async discard(): Promise<void> {
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
