// applyLayer for a plain tar fed in batches (the unpacking thread's input from a load or a
// pull): each batch is hashed, staged, recorded (tar-split) and applied synchronously before
// the next is taken, with no stream between the stages, and the batch can then go back to the
// thread that filled it. Same options, result and errors as applyLayer (apply.ts), which still
// handles compressed and file input.
import fs from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import * as sys from '../native/syscalls.js';
import type { ApplyOptions, ApplyResult } from './types.js';
import { ConfinedDir } from './confine.js';
import { TarSplitRecorder } from './tar-split.js';
import { WhiteoutApplier } from './whiteout.js';
import { EntryWriter } from './writer.js';
import { BatchUnpacker } from './batch-unpack.js';
import { asTarStreamError, EntryCount, SpillFile } from './apply.js';

export class FedApply {
  private readonly hash: Hash | undefined;
  private readonly stageFd: number | undefined;
  private pos = 0;
  private readonly count = new EntryCount();
  private readonly spill: SpillFile | undefined;
  private readonly recorder: TarSplitRecorder | undefined;
  private readonly root: ConfinedDir;
  private readonly writer: EntryWriter;
  private readonly diffSize = { bytes: 0 };
  private readonly unpacker: BatchUnpacker;
  private closed = false;

  /** Opens the target (and the staged copy): throws what applyLayer would reject with. */
  constructor(
    dir: string,
    private readonly opts: ApplyOptions,
  ) {
    this.stageFd = opts.stageTo === undefined ? undefined : fs.openSync(opts.stageTo, 'w');
    this.hash = this.stageFd !== undefined || opts.digest !== false ? createHash('sha256') : undefined;
    this.spill = opts.record && opts.spillTo !== undefined ? new SpillFile(opts.spillTo, dir, this.count) : undefined;
    this.recorder = opts.record ? new TarSplitRecorder(this.spill) : undefined;
    try {
      this.root = ConfinedDir.open(dir);
    } catch (err) {
      this.close();
      throw err;
    }
    this.writer = new EntryWriter(this.root, { writeback: true });
    this.unpacker = new BatchUnpacker(this.writer, new WhiteoutApplier(this.root, opts.whiteouts), this.diffSize);
  }

  /**
   * Takes the stream's next bytes. Synchronous (undefined) unless the layer spills: the returned
   * Promise then settles once the sink has them. Nothing keeps `batch` once it has settled.
   */
  feed(batch: Buffer): Promise<void> | undefined {
    this.hash?.update(batch);
    if (this.stageFd !== undefined) {
      for (let off = 0; off < batch.length;)
        off += fs.writeSync(this.stageFd, batch, off, batch.length - off, this.pos + off);
    }
    this.pos += batch.length;
    const recorder = this.recorder;
    if (!recorder) return this.unpack(batch);
    if (recorder.isSpilling) return recorder.spillRest(batch);
    const handed = recorder.recordChunk(batch);
    recorder.detach();
    if (handed > 0) this.unpack(handed === batch.length ? batch : batch.subarray(0, handed));
    if (!recorder.isSpilling) return undefined;
    // Everything before the cut is written: the spill rebuilds it from the files now.
    this.count.end();
    return recorder.spillRest(batch);
  }

  private unpack(batch: Buffer): undefined {
    try {
      this.unpacker.feed(batch);
    } catch (err) {
      throw asTarStreamError(err);
    }
    return undefined;
  }

  /** The stream has ended: settles the layer as applyLayer does, and closes everything. */
  async finish(): Promise<ApplyResult> {
    try {
      const recorder = this.recorder;
      if (recorder) {
        this.count.end();
        await recorder.endInput();
      }
      const spilled = this.spill?.result();
      if (spilled && recorder!.spilledWhole) {
        // What was applied of the bytes before the cut no longer matters: the caller extracts the file.
        const why = (await recorder!.result()) as { unfaithful?: string };
        return { diffID: '', tarSize: 0, size: 0, diffSize: 0, unfaithful: why.unfaithful ?? 'spilled', spilled };
      }
      try {
        this.unpacker.end();
      } catch (err) {
        throw asTarStreamError(err);
      }
      await this.writer.finish();
      // One syncfs for the whole layer: see applyLayer.
      if (this.opts.sync !== false) sys.syncfs(this.root.fd);
      const split = await recorder?.result();
      const recorded = split ? ('record' in split ? { record: split.record } : { unfaithful: split.unfaithful }) : {};
      const usage = this.opts.usage ? this.writer.usage : undefined;
      const sizes = { size: this.writer.size, diffSize: this.diffSize.bytes, ...recorded, ...(usage && { usage }) };
      if (!this.hash) return { diffID: '', tarSize: 0, ...sizes };
      return { diffID: `sha256:${this.hash.digest('hex')}`, tarSize: this.pos, ...sizes };
    } finally {
      this.close();
    }
  }

  /** Gives up (a failure on either side): closes everything; nothing touches the target after. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unpacker?.abort();
    this.spill?.close();
    this.root?.close();
    if (this.stageFd !== undefined) fs.closeSync(this.stageFd);
    this.recorder?.destroy();
  }
}
