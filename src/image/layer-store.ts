// The layer store: one committed snapshot per chainID (named by it), one row per layer, and per
// diffID what gives back the original uncompressed tar (re-tarring would not reproduce Docker's
// digests): a tar-split record (tar-split-store.ts) that rebuilds it from the snapshot's files,
// as Docker keeps, or, for a layer whose files cannot give it back faithfully (and for layers
// stored before records existed), a content blob holding the whole tar. A layer shared by many
// images is stored once.
//
// Order of durability: snapshot files and record flushed, or blob renamed into the content
// store → snapshot committed → row committed (by the caller's transaction). A crash in between
// leaves only data no row owns; `sweep` removes it at startup. A staged copy whose layer got a
// record is deleted before the flush, so its pages need never reach the disk.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { ContentStore, ContentWriter, ExternalWriter } from '../content/store.js';
import type { ApplyResult } from '../archive/index.js';
import { applyLayer, applyLayerFile, checkLayerFiles, rebuildLayer } from '../archive/lazy.js';
import { InvalidParameter, NotFound, StrataError } from '../errors.js';
import { TarSplitStore } from './tar-split-store.js';
import { batchedWrites } from '../content/batched-writes.js';
import { decompressStream, eachDecompressedChunk } from './decompress.js';
import { sha256 } from './digest.js';
import { noSpaceAt } from '../util/no-space.js';
import { syncfsAsync } from '../native/syscalls.js';
import { EarlyFlush, FlushWhileExtracting } from './early-flush.js';

export interface LayerRow {
  chainID: string;
  diffID: string;
  parent: string | null;
  size: number;
  tarSize: number;
}

/**
 * Layers of one image unpacking at once (inLayerOrder): each on its own worker thread, its
 * gunzip on the thread pool. Two keep two cores busy; a third only takes turns with them, and
 * costs its thread's heap and buffers (30-60 MiB at the peak of a pull). Measured on a 1.1 GiB,
 * 40k-file, 4-layer image on 2 cores: 2 at once pulled in 20-26 s with a peak RSS of 205-269
 * MiB, 3 at once in 29-35 s with 264-297 MiB.
 */
const APPLY_AT_ONCE = 2;

/** A layer whose parent failed: the parent's own error is the one reported. */
class ParentFailed extends Error {
  constructor() {
    super('parent layer failed');
  }
}

/**
 * A layer applied without a staged copy whose files cannot give its tar back (tar-split.ts):
 * it was removed, and must be applied again from its bytes with a staged copy to keep.
 */
export class UnfaithfulLayer extends Error {
  constructor(
    readonly diffID: string,
    readonly why: string,
  ) {
    super(`layer ${diffID}: its files cannot give its tar back (${why})`);
  }
}

/** Uncompressed layer bytes waiting in an ingest, not yet a blob. */
export interface StagedLayer {
  /** '' when its bytes were hashed beside an extraction that failed (`error` says why). */
  diffID: string;
  tarSize: number;
  /** Bytes as they came in (compressed or not): what `docker load` progress counts. */
  rawSize?: number;
  path: string;
  writer?: ContentWriter | ExternalWriter;
  /** Its layer has a tar-split record: the copy is dropped instead of becoming a blob. */
  recorded?: boolean;
  /**
   * No file holds its bytes: they were extracted as they arrived and the copy never written
   * (speculate.ts). `path` names no file unless a fallback writes one later (`writer` set).
   */
  unwritten?: boolean;
  /** Its bytes do not apply as a layer, and why: the load's error if it needs the layer. */
  error?: unknown;
}

/** What one operation added, to be made durable together or rolled back together. */
export class LayerTx {
  readonly newLayers: LayerRow[] = [];
  readonly staged = new Map<string, StagedLayer>();
  readonly snapshots: string[] = [];
  /** Snapshot directories written but not yet flushed: persist() flushes them before any row. */
  readonly unsynced = new Set<string>();
  /**
   * diffIDs whose tar-split record this operation wrote or relies on (its layer has no blob of
   * its own): each is held in the store until the operation ends, so no other operation's
   * rollback removes it before this one's rows name it (LayerStore.holdRecord).
   */
  readonly records = new Set<string>();
  /** Layers taken over from LayerStore.pending, as they were: a rollback may hand them back. */
  readonly adopted = new Map<string, PendingLayer>();

  /**
   * `syncOnce`: the layers of this operation are applied without a flush each and flushed
   * together by persist(), one syncfs per image instead of one per layer (a pull or load of many
   * layers), and only once the staged copies given up for records are deleted, so that it never
   * writes them (a commit's layer too). Until then each is a committed snapshot no row owns,
   * which the startup sweep removes after a crash, so the order data-before-row holds.
   */
  constructor(
    private readonly store: LayerStore,
    readonly opts: { syncOnce?: boolean } = {},
  ) {}

  /**
   * Flushes the snapshot directories written, then moves the blobs of the new layers into the
   * content store; call before the row transaction.
   */
  async persist(): Promise<void> {
    await this.dropRecorded();
    await this.store.earlyFlush?.idle();
    await syncDirs(this.unsynced);
    this.unsynced.clear();
    for (const l of this.newLayers) {
      const s = this.staged.get(l.diffID);
      if (s?.writer) {
        await s.writer.commit(l.diffID);
        s.writer = undefined;
      } else if (!this.store.content.has(l.diffID) && !this.store.records.has(l.diffID))
        throw new StrataError(`layer ${l.diffID}: neither its tar nor its tar-split record is stored`);
    }
  }

  /** Deletes the staged copies of layers that got a record (before any flush reaches them). */
  async dropRecorded(): Promise<void> {
    for (const [diffID, s] of this.staged) {
      if (!s.recorded) continue;
      this.staged.delete(diffID);
      const w = s.writer;
      // Gone: a later image of the same load rebuilds this layer's tar from its record instead.
      s.writer = undefined;
      await w?.abort();
    }
  }

  insertRows(db: MetaDb): void {
    const ins = db.prepare(
      'INSERT OR IGNORE INTO image_layers (chain_id, diff_id, parent, size, tar_size, created) VALUES (?, ?, ?, ?, ?, ?)',
    );
    for (const l of this.newLayers) ins.run(l.chainID, l.diffID, l.parent, l.size, l.tarSize, Date.now());
  }

  /** Once the rows are committed: they own the records now, not this operation. */
  committed(): void {
    for (const d of this.records) this.store.releaseRecord(d, false);
    this.records.clear();
    this.adopted.clear();
  }

  /** Undoes everything not yet owned by a row. */
  async rollback(): Promise<void> {
    // An adopted layer that a live load relies on (its own bytes for it were only hashed) goes
    // back to pending under that load instead: removing it would fail that load for nothing.
    // Its parent, adopted too, goes with it; children first, as they are removed.
    const back: [string, PendingLayer][] = [];
    const heirs = new Map<string, object>();
    for (const name of [...this.snapshots].reverse()) {
      const p = this.adopted.get(name);
      const to = p && (heirs.get(name) ?? this.store.heir(name, p.owner));
      if (p && to) {
        back.push([name, { ...p, owner: to }]);
        if (p.row.parent !== null && this.adopted.has(p.row.parent)) heirs.set(p.row.parent, to);
        continue;
      }
      await this.store.snapshotter.remove(name).catch(() => {});
    }
    // Parents listed before their children, as discard expects.
    for (const [name, p] of back.reverse()) {
      this.store.pending.set(name, p);
      this.store.rely(name, p.owner);
    }
    this.adopted.clear();
    // Gone: a persist() after this (a commit whose layer turned out empty) has nothing to flush.
    this.unsynced.clear();
    // A record goes only if no row names its diffID and no other live operation holds it.
    for (const d of this.records) this.store.releaseRecord(d, true);
    this.records.clear();
    await this.discardStaged();
    await this.store.earlyFlush?.idle();
  }

  async discardStaged(): Promise<void> {
    for (const s of this.staged.values()) await s.writer?.abort().catch(() => {});
    this.staged.clear();
  }
}

/** A layer committed during a load's upload (see speculate.ts) that no row owns yet. */
export interface PendingLayer {
  row: LayerRow;
  /** The speculation that made it; another load that needs the chainID adopts it instead. */
  owner: object;
  /** Its snapshot directory when it was applied without a flush (the adopter's persist() flushes it). */
  unsynced?: string;
  /** Its tar-split record, or why it has none (stored by the adopter). */
  split?: Pick<ApplyResult, 'record' | 'unfaithful'>;
}

/** One syncfs per filesystem among `dirs` (they are usually all on one). */
async function syncDirs(dirs: Iterable<string>): Promise<void> {
  const seen = new Set<number>();
  for (const dir of dirs) {
    const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      const dev = fs.fstatSync(fd).dev;
      if (seen.has(dev)) continue;
      seen.add(dev);
      await syncfsAsync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

export class LayerStore {
  /**
   * Committed, row-less snapshots of loads still uploading, by chainID, parents before their
   * children; changed only under the image lock (or, by a load adding its own, synchronously).
   */
  readonly pending = new Map<string, PendingLayer>();
  /**
   * Live loads (speculations) relying on each pending chainID: its owner, and any load whose own
   * bytes for the layer were only hashed because it was pending already. A layer that a failing
   * load would remove goes to one of them instead (LayerTx.rollback, Speculation.discard); a load
   * leaves every set when it ends (forget), so a layer nobody live relies on is removed.
   */
  private readonly reliers = new Map<string, Set<object>>();
  /**
   * chainIDs being extracted right now, each with a promise that settles once it is committed
   * (and pending, for a load's extraction behind its upload) or given up: one extraction per
   * chainID at a time, and whoever needs the layer waits for it instead of extracting it again.
   */
  readonly extracting: Map<string, Promise<void>> = new FlushWhileExtracting(() => this.earlyFlush);
  /**
   * Writeback started while layers unpack (early-flush.ts). Only where layers apply apart: there
   * a pull or a load writes no staged copy of a layer that gets a record, so the early flush writes
   * nothing that a flush at the end would not; a round is left out while an ingest exists.
   */
  readonly earlyFlush: EarlyFlush | undefined;
  readonly records: TarSplitStore;
  /** Live operations holding each diffID's record (LayerTx.records): a record held is never removed. */
  private readonly recordHolders = new Map<string, number>();

  constructor(
    readonly db: MetaDb,
    readonly content: ContentStore,
    readonly snapshotter: Snapshotter,
    private readonly log: Logger,
  ) {
    this.records = new TarSplitStore(content.root);
    this.earlyFlush = snapshotter.appliesApart
      ? new EarlyFlush(content.root, () => fs.readdirSync(content.ingestDir).length > 0)
      : undefined;
  }

  /**
   * The original uncompressed tar of layer `diffID`: its blob where one is stored, else rebuilt
   * from its tar-split record and the files of a snapshot of that diffID (a row's, or one of
   * `more`, layers not yet in rows), failing where they no longer give the diffID's bytes.
   */
  readTar(diffID: string, more: LayerRow[] = []): Readable {
    if (this.content.has(diffID)) return this.content.read(diffID);
    if (!this.records.has(diffID)) throw new NotFound(`layer ${diffID}: its tar is not stored`);
    const record = this.records.read(diffID);
    const filesOf = () => this.filesOf(diffID, more);
    return Readable.from(
      (async function* () {
        yield* rebuildLayer(record, await filesOf(), diffID);
      })(),
      { objectMode: false },
    );
  }

  /**
   * Fails, before any byte of it is read, where readTar could not give the layer back: no
   * snapshot holds its files, or one of them is missing or not the size it had (LayerMismatch).
   * A save checks its layers this way before it answers, as dockerd does.
   */
  async checkTar(diffID: string): Promise<void> {
    if (this.content.has(diffID)) return;
    if (!this.records.has(diffID)) throw new NotFound(`layer ${diffID}: its tar is not stored`);
    await checkLayerFiles(this.records.read(diffID), await this.filesOf(diffID), diffID);
  }

  /** The directory holding the files of a snapshot of `diffID` (a row's, or one of `more`). */
  private async filesOf(diffID: string, more: LayerRow[] = []): Promise<string> {
    const chains = [
      ...(this.db.prepare('SELECT chain_id FROM image_layers WHERE diff_id = ?').pluck().all(diffID) as string[]),
      ...more.filter((l) => l.diffID === diffID).map((l) => l.chainID),
    ];
    for (const c of chains) {
      const dir = await this.snapshotter.diffSource(c).then(
        (s) => s.upper,
        () => undefined,
      );
      if (dir) return dir;
    }
    throw new NotFound(`layer ${diffID}: no snapshot holds its files`);
  }

  /**
   * `tx` relies on the record of `diffID` until it ends: written by it, or found stored and its
   * own copy of the tar dropped, or read to rebuild the tar. Another operation that wrote the
   * record may roll back meanwhile; the record stays for this one.
   */
  holdRecord(tx: LayerTx, diffID: string): void {
    if (tx.records.has(diffID)) return;
    tx.records.add(diffID);
    this.recordHolders.set(diffID, (this.recordHolders.get(diffID) ?? 0) + 1);
  }

  /**
   * One holder of `diffID`'s record is done; `drop`: the record is removed if that was the last
   * one and no row names the diffID (an operation rolled back).
   */
  releaseRecord(diffID: string, drop: boolean): void {
    const left = (this.recordHolders.get(diffID) ?? 1) - 1;
    if (left > 0) this.recordHolders.set(diffID, left);
    else this.recordHolders.delete(diffID);
    if (drop && left <= 0 && !this.named(diffID)) this.records.delete(diffID);
  }

  /** Whether any layer row names `diffID`. */
  private named(diffID: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM image_layers WHERE diff_id = ?').get(diffID);
  }

  /**
   * After a layer was applied with a record asked for: a faithful record is stored, and the
   * staged copy (if any) is dropped before anything flushes it; otherwise the staged copy stays,
   * to become the layer's blob.
   */
  private async keepRecord(tx: LayerTx, diffID: string, res: ApplyResult, dropNow: boolean): Promise<void> {
    this.storeRecord(tx, diffID, res);
    if (dropNow) await tx.dropRecorded();
  }

  private storeRecord(tx: LayerTx, diffID: string, res: Pick<ApplyResult, 'record' | 'unfaithful'>): void {
    if (!res.record) {
      if (res.unfaithful) this.log.debug(`layer ${diffID}: kept as a whole tar (${res.unfaithful})`);
      return;
    }
    // Held whether written now or found stored: either way this layer's tar is only the record.
    this.holdRecord(tx, diffID);
    this.records.put(diffID, res.record, !tx.opts.syncOnce);
    if (tx.opts.syncOnce) tx.unsynced.add(this.records.dir);
    const staged = tx.staged.get(diffID);
    if (staged?.writer) staged.recorded = true;
  }

  get(chainID: string): LayerRow | undefined {
    const r = this.db
      .prepare('SELECT chain_id, diff_id, parent, size, tar_size FROM image_layers WHERE chain_id = ?')
      .get(chainID) as
      { chain_id: string; diff_id: string; parent: string | null; size: number; tar_size: number } | undefined;
    return r && { chainID: r.chain_id, diffID: r.diff_id, parent: r.parent, size: r.size, tarSize: r.tar_size };
  }

  all(): LayerRow[] {
    return (
      this.db.prepare('SELECT chain_id, diff_id, parent, size, tar_size FROM image_layers').all() as {
        chain_id: string;
        diff_id: string;
        parent: string | null;
        size: number;
        tar_size: number;
      }[]
    ).map((r) => ({ chainID: r.chain_id, diffID: r.diff_id, parent: r.parent, size: r.size, tarSize: r.tar_size }));
  }

  /** Writes a (possibly compressed) layer's uncompressed bytes to an ingest, hashing them. */
  async stage(input: Readable): Promise<StagedLayer> {
    const w = await this.content.writer();
    const batches = batchedWrites(w);
    const noSpace = (err: unknown) => {
      throw noSpaceAt(err, w.path);
    };
    try {
      await eachDecompressedChunk(input, (chunk) => batches.write(chunk)?.catch(noSpace));
      await batches.flush().catch(noSpace);
      return { diffID: w.digest(), tarSize: w.size, path: w.path, writer: w };
    } catch (err) {
      input.destroy();
      await w.abort();
      throw err;
    }
  }

  /**
   * Makes sure the layers named by `diffIDs` exist as committed snapshots, extracting the
   * missing ones from their staged bytes (or their stored blob), several at once where the
   * snapshotter allows (inLayerOrder). Returns the layer rows.
   */
  async ensure(diffIDs: string[], tx: LayerTx): Promise<LayerRow[]> {
    const plan: {
      chainID: string;
      diffID: string;
      parent: string | null;
      row?: LayerRow;
      source?: string | (() => Readable);
      extracting?: Promise<void>;
    }[] = [];
    let parent: string | null = null;
    for (const diffID of diffIDs) {
      const chainID: string = parent === null ? diffID : sha256(`${parent} ${diffID}`);
      const row = this.get(chainID) ?? tx.newLayers.find((l) => l.chainID === chainID) ?? this.adopt(chainID, tx);
      const extracting = row ? undefined : this.extracting.get(chainID);
      // A layer extracting behind the upload without a staged copy gets one only if that fails.
      const source = row || extracting ? undefined : this.sourceOf(diffID, tx);
      plan.push({ chainID, diffID, parent, row, source, extracting });
      parent = chainID;
    }
    const missing = plan.filter((p) => !p.row);
    // Claimed until extracted here, so that no extraction behind an upload starts on them.
    let release!: () => void;
    const claim = new Promise<void>((resolve) => (release = resolve));
    const claimed = missing.filter((p) => !p.extracting).map((p) => p.chainID);
    for (const c of claimed) this.extracting.set(c, claim);
    try {
      await this.inLayerOrder(missing.length, async (i, after) => {
        const p = missing[i]!;
        if (p.extracting) {
          // Extracted behind the upload: taken over once done (extracted here if that failed).
          await p.extracting;
          const adopted = this.adopt(p.chainID, tx);
          if (adopted) {
            p.row = adopted;
            return;
          }
          p.source = this.sourceOf(p.diffID, tx);
        }
        const { size, tarSize } = await this.extract(p.chainID, p.diffID, p.parent, p.source!, tx, after);
        p.row = { chainID: p.chainID, diffID: p.diffID, parent: p.parent, size, tarSize };
        tx.newLayers.push(p.row);
      });
    } finally {
      for (const c of claimed) if (this.extracting.get(c) === claim) this.extracting.delete(c);
      release();
    }
    return plan.map((p) => p.row!);
  }

  /** Where the tar of a layer to extract comes from: its staged bytes, its blob, or another snapshot of it. */
  private sourceOf(diffID: string, tx: LayerTx): string | (() => Readable) {
    const staged = tx.staged.get(diffID);
    // A staged file whose writer is gone was already committed as the diffID's blob.
    if (staged?.writer) return staged.path;
    if (this.content.has(diffID)) return this.content.blobPath(diffID);
    // The same diffID on another parent: its tar is rebuilt from that layer's files.
    if (this.records.has(diffID)) {
      this.holdRecord(tx, diffID);
      return () => this.readTar(diffID, tx.newLayers);
    }
    // Bytes that were extracted as they arrived, with no copy kept, whose extraction is gone.
    if (staged?.unwritten)
      throw new StrataError(
        `layer ${diffID} was extracted as it arrived, then removed before this load could store it; no copy of its bytes was kept: load the archive again`,
      );
    throw new InvalidParameter(`layer ${diffID} is missing from the archive`);
  }

  /**
   * Runs `apply(i, after, unpacked)` for `count` layers, base first, up to APPLY_AT_ONCE
   * unpacking at a time where the snapshotter lets a layer unpack before its parent exists (one
   * at a time otherwise). `after` settles once layer i-1's apply has (each commits onto its
   * parent only then, so commits stay in order); it rejects if that one failed. `unpacked`, once
   * layer i's files are written, lets the next layer start while this one waits for its parent:
   * the base layer, applied from the socket as it downloads, would otherwise hold the layers
   * above it fetched ahead to one at a time. The first layer's own error is
   * reported, after every apply has settled (nothing is left half-made behind the caller).
   *
   * `sizes` (a pull: each layer's compressed size), where layers apply apart and every apply
   * calls `unpacked` before it waits on `after`: a free place goes to the largest layer waiting,
   * so that the last one to unpack, alone on one core, is a small one. In layer order otherwise.
   */
  async inLayerOrder(
    count: number,
    apply: (i: number, after: Promise<void>, unpacked: () => void) => Promise<void>,
    sizes?: readonly number[],
  ): Promise<void> {
    const limit = this.snapshotter.appliesApart ? APPLY_AT_ONCE : 1;
    const bySize = this.snapshotter.appliesApart && sizes !== undefined;
    let running = 0;
    const waiting: { i: number; start: () => void }[] = [];
    const grant = () => {
      while (running < limit && waiting.length) {
        let next = 0;
        if (bySize)
          for (let k = 1; k < waiting.length; k++)
            if ((sizes[waiting[k]!.i] ?? 0) > (sizes[waiting[next]!.i] ?? 0)) next = k;
        running++;
        waiting.splice(next, 1)[0]!.start();
      }
    };
    const slot = (i: number): Promise<void> => new Promise((resolve) => waiting.push({ i, start: resolve }));
    const free = () => {
      running--;
      grant();
    };
    const all: Promise<void>[] = [];
    let prev: Promise<void> = Promise.resolve();
    for (let i = 0; i < count; i++) {
      const after = prev.then(
        () => undefined,
        () => Promise.reject(new ParentFailed()),
      );
      after.catch(() => {});
      const done = slot(i).then(() => {
        let freed = false;
        const unpacked = () => {
          if (!freed) ((freed = true), free());
        };
        return apply(i, after, unpacked).finally(unpacked);
      });
      done.catch(() => {});
      all.push(done);
      prev = done;
    }
    grant();
    const settled = await Promise.allSettled(all);
    const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason);
    if (failures.length) throw failures.find((e) => !(e instanceof ParentFailed)) ?? failures[0];
  }

  /** `load` relies on pending layer `chainID` until it ends. */
  rely(chainID: string, load: object): void {
    const set = this.reliers.get(chainID) ?? new Set();
    set.add(load);
    this.reliers.set(chainID, set);
  }

  /** `load` has ended: it relies on no layer any more. */
  forget(load: object): void {
    for (const [chainID, set] of this.reliers) if (set.delete(load) && !set.size) this.reliers.delete(chainID);
  }

  /** A live load relying on `chainID`: `owner` if it still does, else any. */
  heir(chainID: string, owner?: object): object | undefined {
    const set = this.reliers.get(chainID);
    if (owner !== undefined && set?.has(owner)) return owner;
    return set?.values().next().value;
  }

  /** Takes over a layer extracted while its archive was uploading: `tx` now owns its snapshot. */
  adopt(chainID: string, tx: LayerTx): LayerRow | undefined {
    const p = this.pending.get(chainID);
    if (!p) return undefined;
    this.pending.delete(chainID);
    tx.adopted.set(chainID, p);
    if (p.unsynced) tx.unsynced.add(p.unsynced);
    tx.snapshots.push(chainID);
    tx.newLayers.push(p.row);
    if (p.split) this.storeRecord(tx, p.row.diffID, p.split);
    return p.row;
  }

  /**
   * One pass over a new layer stream (docker commit, import, build): decompress, tee the
   * bytes into an ingest while applying them onto a snapshot of `parent`. `knownSize`, where
   * the stream's producer knows the layer's DiffSize once it has ended, stands in for
   * measuring the new snapshot.
   */
  async applyStream(
    parent: string | null,
    input: Readable,
    tx: LayerTx,
    after: Promise<void> = Promise.resolve(),
    knownSize?: () => number,
  ): Promise<LayerRow> {
    const w = await this.content.writer();
    const tee = new Transform({
      readableHighWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc, cb) {
        w.write(chunk).then(
          () => cb(null, chunk),
          (err: unknown) => cb(noSpaceAt(err, w.path) as Error),
        );
      },
    });
    const key = `extract-${randomBytes(8).toString('hex')}`;
    let src: Readable | undefined;
    try {
      const apart = await this.prepareFor(key, parent, after);
      const target = await this.snapshotter.applyTarget(key);
      src = decompressStream(input);
      src.on('error', (err) => tee.destroy(err));
      src.pipe(tee);
      const res = await applyLayer(tee, target.dir, {
        whiteouts: target.whiteouts,
        digest: false, // the ingest hashes
        sync: !tx.opts.syncOnce,
        record: true,
        // Applied apart, the snapshot starts empty: its usage is counted as it fills, and its
        // commit need not walk it to measure it.
        usage: this.snapshotter.appliesApart,
      }).catch((err: unknown) => {
        throw noSpaceAt(err, target.dir);
      });
      // The digest covers the stream to its very end, padding after the tar trailer included.
      if (!tee.readableEnded) {
        tee.resume();
        await finished(tee);
      }
      const diffID = w.digest();
      if (res.diffID && res.diffID !== diffID)
        throw new StrataError(`layer digest mismatch while applying: ${res.diffID} != ${diffID}`);
      return await this.commitApplied(
        tx,
        { key, dir: target.dir, parent, diffID, apart, after, res },
        w,
        w.size,
        (chainID) => (knownSize ? Promise.resolve(knownSize()) : this.layerSize(chainID, res.diffSize)),
      );
    } catch (err) {
      // The source stays half-read otherwise, and keeps open what it reads (a container's
      // files for a commit): the space of deleted files would not come back until restart.
      input.destroy();
      src?.destroy();
      tee.destroy();
      // The staged bytes go first: on a full disk, removing the snapshot writes to the metadata
      // database, which needs the space they hold.
      await w.abort();
      await this.dropUnfinished(key);
      throw err;
    }
  }

  /** Removes the snapshot of a layer that failed; one that cannot go is left to the startup sweep, said in the log. */
  private async dropUnfinished(key: string): Promise<void> {
    await this.snapshotter.remove(key).catch((err: unknown) => {
      if (!(err instanceof NotFound))
        this.log.warn(`unfinished layer ${key} left for the next start: ${(err as Error).message}`);
    });
  }

  /**
   * applyStream for a layer whose every byte the unpacking thread handles: it decompresses the
   * bytes (a stream, or a file it reads itself), hashes the diffID and writes the staged copy,
   * so the caller's thread only hands it compressed bytes, or nothing at all. `onProgress`
   * hears how much of a file was read.
   *
   * `stage: false` (a pull, whose blob the registry can give again): no staged copy is written,
   * since nearly every layer's tar-split record gives its tar back and the copy would be one more
   * write of the whole layer. A layer whose record is unfaithful and not stored already is then
   * removed and UnfaithfulLayer thrown: the caller applies it again from its bytes, staged.
   * A file's `signal` calls its apply off (a stream is called off by destroying it).
   */
  async applyOffThread(
    parent: string | null,
    input: Readable | { file: string; onProgress?: (bytesRead: number) => void; signal?: AbortSignal },
    tx: LayerTx,
    after: Promise<void> = Promise.resolve(),
    unpacked?: () => void,
    opts: { stage?: boolean } = {},
  ): Promise<LayerRow> {
    const key = `extract-${randomBytes(8).toString('hex')}`;
    let w: ExternalWriter | undefined;
    try {
      if (opts.stage !== false) w = await this.content.externalWriter();
      const apart = await this.prepareFor(key, parent, after);
      const target = await this.snapshotter.applyTarget(key);
      const usage = this.snapshotter.appliesApart; // an empty snapshot: see applyStream
      const applyOpts = { whiteouts: target.whiteouts, sync: !tx.opts.syncOnce, stageTo: w?.path, record: true, usage };
      const flushing = tx.opts.syncOnce ? this.earlyFlush?.hold() : undefined;
      const res = await (
        'pipe' in input
          ? applyLayer(input, target.dir, applyOpts)
          : applyLayerFile(input.file, target.dir, applyOpts, input.onProgress, input.signal)
      )
        .catch((err: unknown) => {
          throw noSpaceAt(err, target.dir);
        })
        .finally(flushing);
      unpacked?.();
      const writer = w;
      const applied = { key, dir: target.dir, parent, diffID: res.diffID, apart, after, res };
      return await this.commitApplied(tx, applied, writer, res.tarSize, (chainID) =>
        this.layerSize(chainID, res.diffSize),
      );
    } catch (err) {
      if ('pipe' in input) input.destroy();
      await w?.abort();
      await this.dropUnfinished(key);
      throw err;
    }
  }

  /**
   * The end of applyStream and applyOffThread: the applied snapshot committed as its chain ID
   * (or dropped, with its staged bytes, when that layer exists already), its staged copy and row
   * added to the transaction. Without a staged copy, a layer whose record is unfaithful is not
   * committed (UnfaithfulLayer): nothing would give its tar back.
   */
  private async commitApplied(
    tx: LayerTx,
    a: {
      key: string;
      dir: string;
      parent: string | null;
      diffID: string;
      apart: boolean;
      after: Promise<void>;
      res: ApplyResult;
    },
    writer: ContentWriter | ExternalWriter | undefined,
    tarSize: number,
    measure: (chainID: string) => Promise<number>,
  ): Promise<LayerRow> {
    const { key, parent, diffID } = a;
    const chainID = parent === null ? diffID : sha256(`${parent} ${diffID}`);
    if (a.apart) await a.after;
    const existing = this.get(chainID) ?? tx.newLayers.find((l) => l.chainID === chainID);
    if (existing) {
      await this.snapshotter.remove(key);
      await writer?.abort();
      return existing;
    }
    // The same diffID stored on another parent keeps its blob or record, which serves this one too.
    if (!writer && !a.res.record && !this.content.has(diffID) && !this.records.has(diffID))
      throw new UnfaithfulLayer(diffID, a.res.unfaithful ?? 'no tar-split record');
    await this.snapshotter.commit(chainID, key, undefined, a.apart ? parent! : undefined, a.res.usage);
    tx.snapshots.push(chainID);
    if (tx.opts.syncOnce) tx.unsynced.add(a.dir);
    if (!writer && !a.res.record && !this.content.has(diffID)) this.holdRecord(tx, diffID);
    if (writer) tx.staged.set(diffID, { diffID, tarSize, path: writer.path, writer });
    const row = { chainID, diffID, parent, size: await measure(chainID), tarSize };
    tx.newLayers.push(row);
    await this.keepRecord(tx, diffID, a.res, true);
    return row;
  }

  /**
   * Prepares the snapshot a layer on `parent` is applied into: without a parent where the
   * snapshotter allows (true: commit it onto `parent` once `after` settles), else on `parent`
   * once `after` has settled.
   */
  private async prepareFor(key: string, parent: string | null, after: Promise<void>): Promise<boolean> {
    if (parent !== null && this.snapshotter.appliesApart) {
      await this.snapshotter.prepare(key);
      return true;
    }
    await after;
    await this.snapshotter.prepare(key, parent ?? undefined);
    return false;
  }

  /**
   * Applies a layer tar already on disk: an ingest staged by this operation (hashed as it was
   * written, and checked against the config by the caller) or a stored blob (named by its digest,
   * checked when it was committed). Its digest is known, so it is not hashed a second time, and
   * the unpacking thread reads the file itself.
   */
  private async extract(
    chainID: string,
    diffID: string,
    parent: string | null,
    source: string | (() => Readable),
    tx: LayerTx,
    after: Promise<void>,
  ): Promise<{ size: number; tarSize: number }> {
    const key = `extract-${randomBytes(8).toString('hex')}`;
    try {
      const tarPath = typeof source === 'string' ? source : undefined;
      // A layer rebuilt from another snapshot's files already has its record, and a stored blob
      // stays what it is; only a staged copy is replaced by a record.
      const record = tarPath !== undefined && tx.staged.get(diffID)?.path === tarPath;
      const tarSize =
        tarPath !== undefined
          ? (await fs.promises.stat(tarPath)).size
          : ((this.db.prepare('SELECT tar_size FROM image_layers WHERE diff_id = ?').pluck().get(diffID) as
              number | undefined) ??
            tx.newLayers.find((l) => l.diffID === diffID)?.tarSize ??
            0);
      const apart = await this.prepareFor(key, parent, after);
      const target = await this.snapshotter.applyTarget(key);
      const usage = this.snapshotter.appliesApart; // an empty snapshot: see applyStream
      const opts = { whiteouts: target.whiteouts, sync: !tx.opts.syncOnce, digest: false, record, usage };
      const res = await (
        tarPath !== undefined
          ? applyLayerFile(tarPath, target.dir, opts)
          : applyLayer((source as () => Readable)(), target.dir, opts)
      ).catch((err: unknown) => {
        throw noSpaceAt(err, target.dir);
      });
      if (apart) await after;
      await this.snapshotter.commit(chainID, key, undefined, apart ? parent! : undefined, res.usage);
      tx.snapshots.push(chainID);
      if (tx.opts.syncOnce) tx.unsynced.add(target.dir);
      const size = await this.layerSize(chainID, res.diffSize);
      // The staged copy may still be read by another extraction of the same diffID (an image
      // that repeats a layer): persist() drops it, before its flush.
      if (record) await this.keepRecord(tx, diffID, res, false);
      return { tarSize, size };
    } catch (err) {
      await this.snapshotter.remove(key).catch(() => {});
      throw err;
    }
  }

  /**
   * Removes every layer no image references (and no container snapshot builds on), top
   * layers first: snapshot, row, then the blob once no layer row names its diffID.
   */
  async releaseUnreferenced(referenced: Set<string>): Promise<string[]> {
    const removed: string[] = [];
    for (;;) {
      const rows = this.all();
      const parents = new Set(rows.map((r) => r.parent).filter((p): p is string => !!p));
      const victims = rows.filter((r) => !referenced.has(r.chainID) && !parents.has(r.chainID));
      let progress = false;
      for (const v of victims) {
        try {
          await this.snapshotter.remove(v.chainID);
        } catch (err) {
          if (await this.snapshotExists(v.chainID)) {
            this.log.debug(`layer ${v.chainID} kept: ${(err as Error).message}`);
            continue;
          }
        }
        this.db.prepare('DELETE FROM image_layers WHERE chain_id = ?').run(v.chainID);
        if (!this.named(v.diffID)) {
          await this.content.delete(v.diffID);
          // A live operation relying on the record keeps it; its rows or its rollback decide.
          if (!this.recordHolders.has(v.diffID)) this.records.delete(v.diffID);
        }
        removed.push(v.chainID);
        progress = true;
      }
      if (!progress) return removed;
    }
  }

  /**
   * Docker's layer size is DiffSize: st_size of everything but directories (symlinks count).
   * On overlay2 the snapshot holds only this layer's files, so its usage is exactly that; a
   * vfs snapshot is a full copy, where the DiffSize the applier counted from the tar's headers
   * is the answer.
   */
  async layerSize(chainID: string, diffSize: number): Promise<number> {
    if (this.snapshotter.driver === 'vfs') return diffSize;
    try {
      return (await this.snapshotter.usage(chainID)).size;
    } catch (err) {
      this.log.warn(`layer ${chainID}: size: ${(err as Error).message}`);
      return diffSize;
    }
  }

  async snapshotExists(name: string): Promise<boolean> {
    try {
      await this.snapshotter.stat(name);
      return true;
    } catch {
      return false;
    }
  }

  /** Startup: drop committed layer snapshots and blobs that no row owns (an interrupted load). */
  async sweep(): Promise<void> {
    const known = new Set(this.all().map((r) => r.chainID));
    const orphans: { name: string; parent?: string }[] = [];
    await this.snapshotter.walk((info) => {
      if (info.kind === 'committed' && /^sha256:[a-f0-9]{64}$/.test(info.name) && !known.has(info.name))
        orphans.push({ name: info.name, parent: info.parent });
    });
    // Children before parents.
    let left = orphans;
    while (left.length) {
      const parents = new Set(left.map((o) => o.parent));
      const leaves = left.filter((o) => !parents.has(o.name));
      if (!leaves.length) break;
      for (const o of leaves) {
        await this.snapshotter.remove(o.name).then(
          () => this.log.info(`removed unowned layer snapshot ${o.name}`),
          (err: Error) => this.log.warn(`unowned layer snapshot ${o.name} kept: ${err.message}`),
        );
      }
      left = left.filter((o) => !leaves.includes(o));
    }
    const diffIDs = new Set(this.all().map((r) => r.diffID));
    const removed = await this.content.sweep((d) => diffIDs.has(d));
    for (const d of removed) this.log.info(`removed unowned blob ${d}`);
    for (const d of this.records.sweep((d) => diffIDs.has(d))) this.log.info(`removed unowned tar-split record ${d}`);
  }
}
