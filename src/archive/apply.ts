// applyLayer: decompress, hash (diffID) and extract a layer tar into a snapshot directory,
// keeping a copy of the uncompressed tar where asked (always, or only from where its tar-split
// record turns out unfaithful: a spill).
import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { Transform, type Duplex, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidParameter, StrataError } from '../errors.js';
import * as sys from '../native/syscalls.js';
import type { ApplyOptions, ApplyResult } from './types.js';
import { decompressStages } from './compression.js';
import { ConfinedDir } from './confine.js';
import { Digester } from './digest.js';
import { toEntry } from './entry.js';
import { extract, type TarHeaders } from './tarstream.js';
import { TarSplitRecorder, type SpillSink } from './tar-split.js';
import { rebuildPrefix } from './tar-rebuild.js';
import path from 'node:path';
import { WhiteoutApplier } from './whiteout.js';
import { drain, EntryWriter } from './writer.js';
import { writeAllAt } from '../util/write-at.js';

/** Names the tar entry in a confinement error that speaks only of one of its parents. */
export function naming(err: unknown, entry: string): unknown {
  if (!(err instanceof InvalidParameter) || err.message.includes(JSON.stringify(entry))) return err;
  return new InvalidParameter(`${err.message} (tar entry ${JSON.stringify(entry)})`);
}

/**
 * Entry types that carry no data. Go's archive/tar (Docker) and GNU tar ignore their size field
 * and read what follows as the next header, while tar-stream reads it as data (and never ends
 * the stream of a directory with a size): a tar with such bytes means different things to
 * different readers, a way to hide entries from a check, so it is refused.
 */
export const HEADER_ONLY = new Set(['link', 'symlink', 'character-device', 'block-device', 'directory', 'fifo']);

/**
 * What an entry adds to Docker's DiffSize: st_size of every added entry that is not a directory
 * (symlinks count their target's length), whiteouts and hardlinks excluded. Counted as the layer
 * unpacks, because a vfs snapshot is a full copy that cannot be measured afterwards, and a layer
 * applied without a staged copy leaves no tar to read it from.
 */
export function diffSizeOf(h: TarHeaders): number {
  const base = h.name.split('/').filter(Boolean).pop() ?? '';
  if (base.startsWith('.wh.')) return 0;
  if (h.type === 'file' || h.type === 'contiguous-file') return h.size ?? 0;
  if (h.type === 'symlink') return Buffer.byteLength(h.linkname ?? '');
  return 0;
}

/** How many entries unpack has written so far; a spill waits for those its bytes come from. */
export class EntryCount {
  private done = 0;
  private over = false;
  private readonly waiting: { n: number; go: () => void }[] = [];

  written(): void {
    this.done++;
    this.wake();
  }

  /** unpack ended (or failed): nothing more will be written. */
  end(): void {
    this.over = true;
    this.wake();
  }

  /** Settles once `n` entries are written, or once none will be any more. */
  reached(n: number): Promise<void> {
    if (this.done >= n || this.over) return Promise.resolve();
    return new Promise((go) => this.waiting.push({ n, go }));
  }

  private wake(): void {
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i]!;
      if (this.done >= w.n || this.over) {
        this.waiting.splice(i, 1);
        w.go();
      }
    }
  }
}

/**
 * The file a layer's tar spills into (ApplyOptions.spillTo): the bytes before the cut rebuilt
 * from the record so far and the files unpack has written from them, then the rest of the
 * stream; hashed as written, so that the caller can check it is the stream it received.
 */
export class SpillFile implements SpillSink {
  private fd: number | undefined;
  private readonly hash = createHash('sha256');
  private size = 0;
  private started = false;

  constructor(
    private readonly file: string,
    private readonly dir: string,
    private readonly count: EntryCount,
  ) {}

  async start(record: Buffer, length: number, entries: number): Promise<void> {
    this.started = true;
    await this.count.reached(entries);
    await fs.promises.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    this.fd = fs.openSync(this.file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    for await (const b of rebuildPrefix(record, this.dir, length)) await this.write(b);
  }

  async write(chunk: Buffer): Promise<void> {
    this.hash.update(chunk);
    await writeAllAt(this.fd!, chunk, this.size);
    this.size += chunk.length;
  }

  /** What was written, once the stream has ended; undefined if no spill began. */
  result(): { digest: string; size: number } | undefined {
    return this.started ? { digest: `sha256:${this.hash.digest('hex')}`, size: this.size } : undefined;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** tar-stream's own complaints (and the same ones from a reader that mirrors it) are about the input, not about Strata. */
export function asTarStreamError(err: unknown): unknown {
  if (!(err instanceof StrataError) && /header|end of data|gunzipped/i.test((err as Error)?.message ?? '')) {
    return new InvalidParameter(`invalid tar stream: ${(err as Error).message}`);
  }
  return err;
}

/** Streams `tar` through tar-stream into `writer`, entry by entry, with whiteouts if given. */
export async function unpack(
  source: Readable,
  stages: Duplex[],
  writer: EntryWriter,
  whiteouts?: WhiteoutApplier,
  diffSize?: { bytes: number },
  count?: EntryCount,
): Promise<void> {
  try {
    await unpackAll(source, stages, writer, whiteouts, diffSize, count);
  } finally {
    count?.end();
  }
}

async function unpackAll(
  source: Readable,
  stages: Duplex[],
  writer: EntryWriter,
  whiteouts: WhiteoutApplier | undefined,
  diffSize: { bytes: number } | undefined,
  count: EntryCount | undefined,
): Promise<void> {
  const ex = extract();
  ex.on('entry', (header: TarHeaders, entryStream: unknown, next: (err?: Error | null) => void) => {
    const data = entryStream as Readable;
    if (diffSize) diffSize.bytes += diffSizeOf(header);
    if (HEADER_ONLY.has(header.type as string) && (header.size ?? 0) > 0) {
      data.on('error', () => {}); // destroyed with the extractor: the error is reported once, by it
      next(
        new InvalidParameter(
          `invalid tar: ${header.type} entry ${JSON.stringify(header.name)} carries ${header.size} bytes of data`,
        ),
      );
      return;
    }
    let work: Promise<void>;
    try {
      const e = toEntry(header);
      writer.rules?.check(header, e);
      if (e === null) work = drain(data);
      else if (whiteouts?.apply(e)) {
        writer.untallied(); // a whiteout made or removed what the writer does not count
        work = drain(data);
      } else work = writer.write(e, data);
      if (e !== null) work = work.catch((err: unknown) => Promise.reject(naming(err, e.rawName)));
    } catch (err) {
      work = drain(data).then(() => Promise.reject(naming(err, header.name)));
    }
    work.then(
      () => {
        count?.written();
        next();
      },
      (err: unknown) => next(err as Error),
    );
  });
  try {
    await pipeline([source, ...stages, ex as unknown as NodeJS.WritableStream]);
  } catch (err) {
    throw asTarStreamError(err);
  }
  await writer.finish();
}

/**
 * A pass-through stage that hashes every chunk and writes it to `fd` (if given) at its offset
 * before passing it on: the staged copy and its diffID from the bytes this thread has in hand
 * (sha256 here costs well under a second per GiB, less than the copies and the extra thread of
 * a Digester). `settled()` resolves once no write is outstanding: the fd may be closed only then
 * (a write landing after the close could reach whatever file reused the number).
 */
function copyTo(fd: number | undefined): {
  stage: Transform;
  settled: () => Promise<void>;
  digest: () => string;
  size: () => number;
} {
  const hash = createHash('sha256');
  let pos = 0;
  let pending: Promise<void> = Promise.resolve();
  const stage = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      const at = pos;
      pos += chunk.length;
      if (fd === undefined) {
        cb(null, chunk);
        return;
      }
      pending = writeAllAt(fd, chunk, at).then(
        () => cb(null, chunk),
        (err: Error) => cb(err),
      );
    },
  });
  return { stage, settled: () => pending, digest: () => `sha256:${hash.digest('hex')}`, size: () => pos };
}

export async function applyLayer(input: Readable, dir: string, opts: ApplyOptions): Promise<ApplyResult> {
  // Decompression is set up from the stream's first bytes before the target is opened.
  const { stream, stages } = await decompressStages(input);
  const stageFd = opts.stageTo === undefined ? undefined : fs.openSync(opts.stageTo, 'w');
  // On an unpacking thread the stream is hashed inline, as the staged copy is: that thread is
  // already off the main one, and a Digester would add a thread and a copy of every chunk.
  const inline = stageFd !== undefined || (opts.digest !== false && !isMainThread);
  const digester = opts.digest === false || inline ? undefined : new Digester();
  const copy = inline ? copyTo(stageFd) : undefined;
  const diffSize = { bytes: 0 };
  const count = new EntryCount();
  const spill = opts.record && opts.spillTo !== undefined ? new SpillFile(opts.spillTo, dir, count) : undefined;
  const recorder = opts.record ? new TarSplitRecorder(spill) : undefined;
  let root: ConfinedDir | undefined;
  try {
    root = ConfinedDir.open(dir);
    const writer = new EntryWriter(root, { writeback: true });
    const extra: Duplex[] = [];
    if (digester) extra.push(digester);
    if (copy) extra.push(copy.stage);
    if (recorder) extra.push(recorder);
    const unpacking = unpack(
      stream,
      [...stages, ...extra],
      writer,
      new WhiteoutApplier(root, opts.whiteouts),
      diffSize,
      count,
    );
    if (spill) {
      const failed = await unpacking.then(
        () => undefined,
        (err: unknown) => ({ err }),
      );
      const spilled = spill.result();
      // Spilled whole: what unpack made of the bytes before the cut (it never saw the rest) no
      // longer matters; the caller extracts the file. A spill that failed lost the bytes: the
      // error is unpack's own where it had one (what an extraction of the file would report).
      if (spilled && (!failed || recorder!.spilledWhole)) {
        const why = (await recorder!.result()) as { unfaithful?: string };
        return { diffID: '', tarSize: 0, size: 0, diffSize: 0, unfaithful: why.unfaithful ?? 'spilled', spilled };
      }
      if (failed) throw failed.err;
    } else await unpacking;
    // One syncfs for the whole layer instead of an fsync per file: the snapshot is committed
    // (and its row written) only after this returns, so a crash before that point leaves an
    // uncommitted directory that startup recovery removes. Per-file fsync would make a
    // 40k-file layer many times slower for no additional guarantee: even for a commit, where
    // the syncfs also flushes the container's own fresh writes, fsyncing only the new
    // layer's 10k files (16 at a time on the thread pool) took 3 to 8 times as long, each
    // fsync forcing its own journal commit on ext4. With each file's writeback started as it
    // was closed (writer.ts), fsyncing them was still no faster than one syncfs: every fsync
    // that finds its transaction committed still sends the disk a cache flush of its own.
    if (opts.sync !== false) sys.syncfs(root.fd);
    const split = await recorder?.result();
    const recorded = split ? ('record' in split ? { record: split.record } : { unfaithful: split.unfaithful }) : {};
    const usage = opts.usage ? writer.usage : undefined;
    const sizes = { size: writer.size, diffSize: diffSize.bytes, ...recorded, ...(usage && { usage }) };
    if (copy) return { diffID: copy.digest(), tarSize: copy.size(), ...sizes };
    if (!digester) return { diffID: '', tarSize: 0, ...sizes };
    return { diffID: await digester.digest(), tarSize: digester.size, ...sizes };
  } finally {
    spill?.close();
    digester?.dispose();
    root?.close();
    if (stageFd !== undefined) {
      await copy?.settled();
      fs.closeSync(stageFd);
    }
  }
}
