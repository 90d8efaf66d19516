// Extracting layers while a docker-archive is still uploading. `docker save` writes the image
// config before the layers, so by the time a layer's bytes arrive its expected diffID and
// parent are usually known. The layer they most likely are (named by the file's name, else the
// config's next one) is extracted from the bytes as they arrive, on an unpacking thread, while
// the same pass writes them to the ingest: the upload and the extraction overlap, as a plain
// `tar -x` reading from the socket would. Once the last byte is in, a digest that is the one
// guessed makes the layer pending; any other discards the extraction. A file no guess was made
// for (or a wrong guess) is only staged, and once its digest is one the config expects (and its
// parent is there or on its way) it is extracted from the staged file behind the upload instead
// of after manifest.json. On any doubt (no config yet, several images, a mismatch, a layer that
// does not apply) the load extracts the staged bytes afterwards exactly as without this.
//
// Where the snapshotter applies a layer apart from its parent (overlay2), the extracted files do
// not depend on the guess, so no staged copy is written at all: the bytes are only hashed. Each
// way the extraction can fall short has its own way back to a complete copy, none of them a
// guess: a record found unfaithful spills (tar-split.ts: the bytes before the first entry it
// cannot give back are rebuilt from the files, the rest written as they come, the whole checked
// against the stream's digest); a wrong guess, or a layer whose parent's extraction failed,
// rebuilds its tar from its record and files (checked against the digest as it goes); bytes that
// do not apply are the load's error, the one extracting them from a file would give, since on
// such a snapshotter it cannot depend on the parent.
//
// A layer that arrives before any config (Docker's `docker save` writes in name order) has
// nothing to guess from. Where layers apply apart, it is extracted all the same, with no parent
// and no staged copy, and kept by its digest (`unplaced`) until a config names it; it is then
// committed onto its parent like a guessed layer. One no config places by the archive's end
// gets its staged copy rebuilt from its record and files, and its extraction goes.
//
// A speculative layer is committed under its chainID but gets no row: until the load's
// transaction adopts it, it is listed in LayerStore.pending (and, while it extracts, in
// LayerStore.extracting, which claims the chainID: no other extraction starts on it and a load
// needing it waits). A crash leaves a committed snapshot no row owns, which the startup sweep
// removes; a failed or finished load removes what it did not adopt, but for a layer another
// live load relies on, having only hashed its own bytes for it: that load gets it instead
// (LayerStore.rely). A failing load that adopted such a layer hands it back the same way.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ApplyResult } from '../archive/index.js';
import { applyLayer, applyLayerFile, rebuildLayer } from '../archive/lazy.js';
import { StrataError } from '../errors.js';
import { noSpaceAt } from '../util/no-space.js';
import { batchedWrites } from '../content/batched-writes.js';
import { eachDecompressedChunk } from './decompress.js';
import type { Mutex } from './mutex.js';
import type { ContentWriter, ExternalWriter } from '../content/store.js';
import type { LayerRow, LayerStore, StagedLayer } from './layer-store.js';
import { sha256 } from './digest.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const V1_ID = /^[a-f0-9]{64}$/;
const V1_JSON = /^([a-f0-9]{64})\/json$/;
const V1_LAYER = /^([a-f0-9]{64})\/layer\.tar$/;
/** Layers extracting behind the upload at once, each on its own thread. */
const APPLY_AT_ONCE = 3;

/** A layer extracted before any config named it (overlay2): committed where a config places it. */
interface Unplaced {
  key: string;
  dir: string;
  res: ApplyResult;
  record: Buffer;
  staged: StagedLayer;
}

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
  /** Each v1 layer directory's parent directory (null: the base layer), from its json. */
  private readonly v1Parents = new Map<string, string | null>();
  /** Layers of this load staged so far, by the digest of their bytes. */
  private readonly staged = new Map<string, StagedLayer>();
  /** This load's extractions behind the upload, by chainID: true once the layer is pending. */
  private readonly behind = new Map<string, Promise<boolean>>();
  private readonly jobs: Promise<boolean>[] = [];
  private running = 0;
  private readonly queue: (() => void)[] = [];
  /** Layers extracted before a config named them, by diffID, waiting for their place (place()). */
  private readonly unplaced = new Map<string, Unplaced>();

  constructor(
    private readonly layers: LayerStore,
    private readonly lock: Mutex,
  ) {}

  /** Remembers a small archive file if it is an image config. */
  noteFile(name: string, data: Buffer): void {
    if (name === 'manifest.json' || name === 'index.json' || name === 'repositories') return;
    const v1 = V1_JSON.exec(name);
    if (v1) {
      this.noteV1(v1[1]!, data);
      return;
    }
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
    this.place();
  }

  /**
   * A layer directory's v1 json (`docker save` before Docker 25 writes <v1 id>/json before
   * <v1 id>/layer.tar, and the directories in the order of their IDs, not of the layers): its
   * parent's v1 ID, which places the layer in the chain once its parents' are known.
   */
  private noteV1(dir: string, data: Buffer): void {
    try {
      const parent = (JSON.parse(data.toString('utf8')) as { parent?: unknown })?.parent;
      this.v1Parents.set(dir, typeof parent === 'string' && V1_ID.test(parent) ? parent : null);
    } catch {
      /* no v1 json: no hint */
    }
  }

  /** The place in the chain of the layer in v1 directory `dir`, where its v1 jsons give it. */
  private v1Depth(dir: string): number | undefined {
    let depth = 0;
    for (let d: string | null | undefined = this.v1Parents.get(dir); d !== null; d = this.v1Parents.get(d)) {
      if (d === undefined || ++depth > this.v1Parents.size) return undefined; // a parent not seen yet, or a loop
    }
    return depth;
  }

  /**
   * Stages one large archive file. While its bytes arrive, the layer they most likely are (the
   * config's first one neither claimed nor staged yet) is extracted from them at once, in the
   * same pass, where its parent is there to build on (extractWhileStaging). Then every layer of
   * the config that is next in layer order and staged (this one, or ones that came before their
   * parent) starts extracting from its staged file behind the upload, on its own thread. A file
   * is taken for a layer only by the digest of its bytes: a wrong guess costs time, never more.
   */
  async stage(name: string, input: Readable): Promise<StagedLayer> {
    const guess = this.configs.size === 1 ? this.guess(name) : undefined;
    // No config yet (`docker save` writes the archive in name order, so the config may come
    // after some or all of the layers): where a layer's files do not depend on its parent, it
    // is extracted all the same and placed in its chain once a config names its digest.
    const unplaced = this.configs.size === 0 && this.layers.snapshotter.appliesApart;
    const staged = guess || unplaced ? await this.extractWhileStaging(input, guess) : await this.layers.stage(input);
    this.place();
    if (this.configs.size !== 1) return staged;
    if (!staged.unwritten && !this.staged.has(staged.diffID)) this.staged.set(staged.diffID, staged);
    this.advance();
    return staged;
  }

  /**
   * The layer a large file arriving now most likely is: the one its name names, where the name
   * holds one of the config's diffIDs (an OCI layout's blobs/sha256/<digest> of an uncompressed
   * layer, a newer `docker save`), or the one at the place its v1 jsons give it (an older `docker
   * save`; none while a parent's json is still to come), else the first of the config, in layer
   * order, that is neither claimed nor staged; and only if what it builds on is stored or this
   * load's own extraction (where a layer is applied onto its parent's files, one already there).
   */
  private guess(name: string): Guess | undefined {
    const diffIDs = [...this.configs.values()][0]!;
    const { layers } = this;
    const named = /[a-f0-9]{64}/.exec(name)?.[0];
    let byName = named !== undefined && diffIDs.includes(`sha256:${named}`) ? `sha256:${named}` : undefined;
    const v1 = V1_LAYER.exec(name)?.[1];
    if (byName === undefined && v1 !== undefined && this.v1Parents.has(v1)) {
      const depth = this.v1Depth(v1);
      if (depth === undefined || depth >= diffIDs.length) return undefined;
      byName = diffIDs[depth];
    }
    let parent: string | null = null;
    for (const [index, diffID] of diffIDs.entries()) {
      const chainID: string = parent === null ? diffID : sha256(`${parent} ${diffID}`);
      const free = !this.claimed(chainID) && !this.staged.has(diffID) && !this.unplaced.has(diffID);
      if (byName === undefined ? free : diffID === byName) {
        if (!free) return undefined;
        if (parent === null || layers.get(parent)) return { diffID, chainID, parent, index };
        // Never on another load's pending layer: only on this load's own.
        if (!this.behind.has(parent)) return undefined;
        if (layers.snapshotter.appliesApart || layers.pending.get(parent)?.owner === this)
          return { diffID, chainID, parent, index };
        return undefined;
      }
      parent = chainID;
    }
    return undefined;
  }

  /**
   * Stages a large file while extracting it as the layer `guess` on an unpacking thread, one
   * pass over the bytes: the upload and the disk's creates overlap instead of following each
   * other. The chainID is claimed meanwhile (LayerStore.extracting). Once the bytes end, a
   * digest that is the guess's makes the layer pending, as extractBehind would; any other (or
   * bytes that do not apply) removes the extraction, and the staged copy goes on as if no guess
   * had been made. The staged copy is written either way: it is what a wrong guess, a layer
   * whose files cannot give its tar back, or another load needing the layer falls back on; for
   * a layer with a record it is deleted before the load's flush, which then never writes it.
   */
  private async extractWhileStaging(input: Readable, guess: Guess | undefined): Promise<StagedLayer> {
    const { layers } = this;
    // No guess: prepared without a parent, and placed once a config names its digest (place()).
    const apart = guess === undefined || (guess.parent !== null && layers.snapshotter.appliesApart);
    const parentJob = guess?.parent == null ? undefined : this.behind.get(guess.parent);
    const { settle, unclaim } = guess ? this.claim(guess.chainID) : { settle: () => {}, unclaim: () => {} };
    // A claim keeps the background flush going (LayerStore.extracting); an unplaced layer has
    // none yet, so it holds the flush itself while its files are written.
    const flushing = guess ? undefined : layers.earlyFlush?.hold();

    const key = `extract-${randomBytes(8).toString('hex')}`;
    let dir: string | undefined;
    let applying: Promise<ApplyResult | undefined> = Promise.resolve(undefined);
    let applyError: unknown;
    let feed: Readable | undefined;
    // Set while the bytes wait for the unpacking thread to want more (the feed is full).
    let wake: (() => void) | undefined;
    let prepared = false;
    // The file a record found unfaithful spills into, made only then (no staged copy otherwise).
    let spill: ExternalWriter | undefined;
    try {
      await layers.snapshotter.prepare(key, apart ? undefined : (guess?.parent ?? undefined));
      prepared = true;
      const target = await layers.snapshotter.applyTarget(key);
      dir = target.dir;
      if (layers.snapshotter.appliesApart) spill = await layers.content.externalWriter({ lazy: true });
      // The staging pass pushes each chunk into the feed itself, with no stream between them:
      // it waits only when the feed is full, until the unpacking thread asks for more.
      feed = new Readable({
        highWaterMark: 1 << 20,
        read() {
          const w = wake;
          wake = undefined;
          w?.();
        },
      });
      // No flush of its own: the load that adopts it flushes all its layers at once before
      // their rows (LayerTx.persist); a crash before leaves a snapshot no row owns.
      applying = applyLayer(feed, target.dir, {
        whiteouts: target.whiteouts,
        // With nothing staged, hashed beside the unpacking (its result's diffID); else as staged.
        digest: spill !== undefined,
        sync: false,
        record: true,
        spillTo: spill?.path,
        // Applied apart, the snapshot starts empty and holds only the layer's files: its usage
        // is counted as they are written, and the commit need not walk them to measure it.
        usage: layers.snapshotter.appliesApart,
      }).catch((err: unknown) => {
        // Bytes that do not apply: without a staged copy, the load's error; else the load
        // extracts them again and says why.
        applyError = err;
        return undefined;
      });
    } catch {
      feed = undefined; // e.g. the parent was removed meanwhile: staged only
    }
    // Once the unpacking thread is done (failed, or past the tar's end), the rest is only staged.
    let stopped = false;
    void applying.then(() => {
      flushing?.();
      stopped = true;
      const w = wake;
      wake = undefined;
      w?.();
    });
    feed?.on('error', () => {}); // its failure is the apply's, reported by `applying`
    const unstaged = feed !== undefined && spill !== undefined;

    let w: ContentWriter | undefined;
    let staged: StagedLayer;
    try {
      const ingest = unstaged ? undefined : (w = await layers.content.writer());
      const batches = ingest && batchedWrites(ingest);
      const noSpace = (err: unknown) => {
        throw noSpaceAt(err, ingest!.path);
      };
      let size = 0;
      const toFeed = (chunk: Buffer): Promise<void> | undefined => {
        if (!feed || stopped || feed.destroyed || feed.push(chunk)) return undefined;
        return new Promise<void>((resolve) => (wake = resolve));
      };
      await eachDecompressedChunk(input, (chunk) => {
        if (!batches) {
          size += chunk.length;
          return toFeed(chunk);
        }
        const written = batches.write(chunk);
        return written ? written.then(() => toFeed(chunk), noSpace) : toFeed(chunk);
      });
      await batches?.flush().catch(noSpace);
      staged = ingest
        ? { diffID: ingest.digest(), tarSize: ingest.size, path: ingest.path, writer: ingest }
        : { diffID: '', tarSize: size, path: spill!.path, unwritten: true }; // diffID: the apply's
    } catch (err) {
      input.destroy();
      feed?.destroy(err as Error);
      await applying;
      if (prepared) await layers.snapshotter.remove(key).catch(() => {});
      unclaim();
      await w?.abort();
      await spill?.abort();
      throw err;
    }
    if (feed && !feed.destroyed) feed.push(null);
    const res = await applying;
    if (res && unstaged) staged.diffID = res.diffID;
    if (unstaged)
      return this.endUnstaged(key, guess, res, applyError, staged, spill!, dir!, parentJob, unclaim, settle);
    await spill?.abort();
    if (!res || staged.diffID !== guess?.diffID) {
      if (prepared) await layers.snapshotter.remove(key).catch(() => {});
      unclaim();
      return staged;
    }
    // The rest (committing it onto its parent once that is there, measuring it) goes on while
    // the archive's next files arrive.
    void this.commitPending(key, guess, res, staged.tarSize, dir!, parentJob).then(settle, () => settle(false));
    return staged;
  }

  /**
   * Claims `chainID` for this load's extraction of it (LayerStore.extracting, and `behind`):
   * `settle(ok)` once it is pending or given up, `unclaim()` to give it up at once.
   */
  private claim(chainID: string): { settle: (ok: boolean) => void; unclaim: () => void } {
    const { layers } = this;
    let settle!: (ok: boolean) => void;
    const job = new Promise<boolean>((resolve) => (settle = resolve));
    const done = job.then(() => {
      if (layers.extracting.get(chainID) === done) layers.extracting.delete(chainID);
    });
    layers.extracting.set(chainID, done);
    this.behind.set(chainID, job);
    this.jobs.push(job);
    const unclaim = () => {
      if (this.behind.get(chainID) === job) this.behind.delete(chainID);
      if (layers.extracting.get(chainID) === done) layers.extracting.delete(chainID);
      settle(false);
    };
    return { settle, unclaim };
  }

  /**
   * The end of extractWhileStaging where no staged copy was written: the layer pending as
   * guessed, or waiting for its place where no guess was made, or the staged copy the
   * extraction stands for (spilled, or rebuilt from its files), or the error its bytes gave.
   */
  private async endUnstaged(
    key: string,
    guess: Guess | undefined,
    res: ApplyResult | undefined,
    applyError: unknown,
    staged: StagedLayer,
    spill: ExternalWriter,
    dir: string,
    parentJob: Promise<boolean> | undefined,
    unclaim: () => void,
    settle: (ok: boolean) => void,
  ): Promise<StagedLayer> {
    const { layers } = this;
    const drop = async () => {
      await layers.snapshotter.remove(key).catch(() => {});
      unclaim();
    };
    if (res?.spilled) {
      await drop();
      if (res.spilled.digest !== staged.diffID || res.spilled.size !== staged.tarSize) {
        await spill.abort();
        return {
          ...staged,
          error: new StrataError(`layer ${staged.diffID}: its copy was not written as received`),
        };
      }
      return { diffID: staged.diffID, tarSize: staged.tarSize, path: spill.path, writer: spill };
    }
    await spill.abort(); // never made: nothing was spilled
    if (!res?.record) {
      await drop();
      const why = res ? `its files cannot give its tar back (${res.unfaithful ?? 'no record'})` : undefined;
      return { ...staged, error: applyError ?? new StrataError(`layer ${staged.diffID}: ${why}`) };
    }
    const record = Buffer.from(res.record);
    if (!guess) return this.park({ key, dir, res, record, staged });
    if (staged.diffID !== guess.diffID) {
      // Another layer than guessed: its tar is rebuilt from what was extracted, then the
      // extraction goes; the staged copy goes on as if no guess had been made.
      try {
        return await this.rebuilt(record, dir, staged);
      } finally {
        await drop();
      }
    }
    // The staged copy it would need if it cannot be committed as guessed (its parent's
    // extraction failed): rebuilt from its files before they go, into the very object returned.
    const rescue = () => this.rebuildInto(record, dir, staged);
    void this.commitPending(key, guess, res, staged.tarSize, dir, parentJob, rescue).then(settle, () => settle(false));
    return staged;
  }

  /**
   * Keeps a layer extracted before any config named it until one places it (place()). The same
   * bytes already waiting: this file gets a staged copy rebuilt from its files instead.
   */
  private async park(u: Unplaced): Promise<StagedLayer> {
    if (this.unplaced.has(u.staged.diffID)) await this.unpark(u);
    else this.unplaced.set(u.staged.diffID, u);
    return u.staged;
  }

  /** Gives an unplaced layer its staged copy back from its files, then removes its extraction. */
  private async unpark(u: Unplaced): Promise<void> {
    try {
      await this.rebuildInto(u.record, u.dir, u.staged);
    } finally {
      await this.layers.snapshotter.remove(u.key).catch(() => {});
    }
  }

  /**
   * Places the layers extracted before a config named them: for each config, in layer order,
   * every such layer whose parent is stored or this load's own extraction is committed onto it
   * (once the parent's is) and becomes pending, as a guessed one does. A config's chain is
   * followed only as far as its layers are there or on their way.
   */
  private place(): void {
    if (this.unplaced.size === 0) return;
    for (const diffIDs of this.configs.values()) {
      let parent: string | null = null;
      for (const [index, diffID] of diffIDs.entries()) {
        const chainID: string = parent === null ? diffID : sha256(`${parent} ${diffID}`);
        const u = this.unplaced.get(diffID);
        if (!this.claimed(chainID)) {
          // Only on a stored layer or this load's own, never on another load's pending one.
          const parentThere = parent === null || this.layers.get(parent) !== undefined || this.behind.has(parent);
          if (!u || !parentThere) break;
          this.unplaced.delete(diffID);
          this.placeAt(u, { diffID, chainID, parent, index });
        }
        parent = chainID;
      }
    }
  }

  private placeAt(u: Unplaced, guess: Guess): void {
    const { settle } = this.claim(guess.chainID);
    const parentJob = guess.parent === null ? undefined : this.behind.get(guess.parent);
    // Not committed after all (the parent's extraction failed, the layer stored meanwhile): its
    // staged copy is rebuilt from its files before they go, into the object the load holds.
    const rescue = () => this.rebuildInto(u.record, u.dir, u.staged);
    void this.commitPending(u.key, guess, u.res, u.staged.tarSize, u.dir, parentJob, rescue).then(settle, () =>
      settle(false),
    );
  }

  /** Rebuilds `staged`'s copy from the record and files (rebuilt()) into the very object the load holds. */
  private async rebuildInto(record: Buffer, dir: string, staged: StagedLayer): Promise<void> {
    const copy = await this.rebuilt(record, dir, staged);
    Object.assign(staged, copy);
    staged.unwritten = !copy.writer;
  }

  /**
   * The archive has been read: the layers no config placed (no config names them, or their
   * parent is no layer this load has) get their staged copies back from their files, for the
   * load to extract them from as it would any staged layer, and their extractions go.
   */
  async placeRest(): Promise<void> {
    this.place();
    const rest = [...this.unplaced.values()];
    this.unplaced.clear();
    for (const u of rest) await this.unpark(u);
  }

  /** A staged copy of a layer's tar rebuilt from its record and extracted files, checked against its digest. */
  private async rebuilt(record: Buffer, dir: string, staged: StagedLayer): Promise<StagedLayer> {
    const w = await this.layers.content.writer();
    try {
      for await (const chunk of rebuildLayer(record, dir, staged.diffID))
        await w.write(chunk).catch((err: unknown) => {
          throw noSpaceAt(err, w.path);
        });
      return { diffID: w.digest(), tarSize: w.size, path: w.path, writer: w };
    } catch (err) {
      await w.abort();
      return { ...staged, error: err };
    }
  }

  /**
   * The end of an extraction into snapshot `key`: committed as the guessed layer (onto its
   * parent once the parent's own extraction is, where layers apply apart), measured and listed
   * as pending for this load. False, with the snapshot removed, when the parent's extraction
   * failed or the layer was extracted elsewhere meanwhile.
   */
  private async commitPending(
    key: string,
    guess: Guess,
    res: ApplyResult,
    tarSize: number,
    dir: string,
    parentJob: Promise<boolean> | undefined,
    rescue?: () => Promise<void>,
  ): Promise<boolean> {
    const { layers } = this;
    const apart = guess.parent !== null && layers.snapshotter.appliesApart;
    try {
      if (apart && parentJob && !(await parentJob)) throw new Error('parent layer not extracted');
      if (layers.get(guess.chainID) || layers.pending.has(guess.chainID)) throw new Error('extracted elsewhere');
      await layers.snapshotter.commit(guess.chainID, key, undefined, apart ? guess.parent! : undefined, res.usage);
      const size = await layers.layerSize(guess.chainID, res.diffSize);
      const row: LayerRow = { chainID: guess.chainID, diffID: guess.diffID, parent: guess.parent, size, tarSize };
      const split = { record: res.record, unfaithful: res.unfaithful };
      layers.pending.set(guess.chainID, { row, owner: this, unsynced: dir, split });
      layers.rely(guess.chainID, this);
      return true;
    } catch {
      // Without a staged copy, this load needs the layer another load has pending: noted at
      // once (nothing runs between the check and the note), so that load hands it over rather
      // than remove it if it fails. One stored meanwhile gets its copy all the same: the image
      // that stored it may be removed, and the layer with it, before this load's rows name it.
      if (rescue && layers.pending.has(guess.chainID)) layers.rely(guess.chainID, this);
      else if (rescue) await rescue().catch(() => {});
      await layers.snapshotter.remove(key).catch(() => {});
      return false;
    }
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
        if (!staged || staged.unwritten || staged.error !== undefined) return;
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
      let res: ApplyResult;
      let dir: string;
      try {
        const target = await layers.snapshotter.applyTarget(key);
        dir = target.dir;
        // No flush of its own: the load that adopts it flushes all its layers at once before
        // their rows (LayerTx.persist); a crash before leaves a snapshot no row owns.
        res = await applyLayerFile(staged.path, target.dir, {
          whiteouts: target.whiteouts,
          digest: false, // hashed as it was staged
          sync: false,
          record: true,
        }).finally(release);
      } catch {
        await layers.snapshotter.remove(key).catch(() => {});
        return false;
      }
      return this.commitPending(key, guess, res, staged.tarSize, dir, parentJob);
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

  /**
   * Removes the layers this load owns pending (extracted, or handed over by a load that failed)
   * that no transaction adopted, children first; one another live load relies on goes to it
   * instead, with its pending parents.
   */
  async discard(): Promise<void> {
    await Promise.all(this.jobs);
    const { layers } = this;
    // Extractions never placed (a load that failed before the archive's end).
    for (const u of this.unplaced.values()) await layers.snapshotter.remove(u.key).catch(() => {});
    this.unplaced.clear();
    // With nothing owned, no lock: ending here and now, no load can hand this one a layer after.
    if (![...layers.pending.values()].some((p) => p.owner === this)) return layers.forget(this);
    await this.lock.run(async () => {
      layers.forget(this);
      const heirs = new Map<string, object>();
      const mine = [...layers.pending].filter(([, p]) => p.owner === this).reverse();
      for (const [chainID, p] of mine) {
        const to = heirs.get(chainID) ?? layers.heir(chainID);
        if (to) {
          layers.pending.set(chainID, { ...p, owner: to });
          layers.rely(chainID, to);
          if (p.row.parent !== null && layers.pending.get(p.row.parent)?.owner === this) heirs.set(p.row.parent, to);
          continue;
        }
        layers.pending.delete(chainID);
        await layers.snapshotter.remove(chainID).catch(() => {});
      }
    });
  }
}
