// The tar-split record of a layer: what it takes, besides the layer's own files, to give back
// its original tar byte for byte (Docker keeps the same thing as tar-split.json.gz, after
// github.com/vbatts/tar-split). A layer's diffID is the digest of the tar exactly as it came,
// and packing the files again would not reproduce it (header fields, PAX records, entry order,
// padding after the trailer all vary between tar writers), so without this record the whole
// uncompressed tar would have to be kept beside the files: every layer stored twice.
//
// No Node library records or rebuilds tar-split streams, so this is written here. The recorder
// is a pass-through stage on the uncompressed stream, in front of the parser that applies it: it
// reads the raw blocks itself (header, PAX and GNU long-name blocks, padding, trailer, bytes
// after the trailer) and keeps all of them, except a regular file's content, which it records as
// "N bytes of the file at this path". Rebuilding (tar-rebuild.ts) reads those bytes back from the
// layer's directory.
//
// A record is only as good as the files it points at. Where the bytes on disk may not be the
// entry's bytes (a path written twice, a file under a path another entry of the same tar makes
// a symlink or removes, a whiteout of a file of the same tar, sparse entries, types the applier
// does not write as a plain file), the record says it is not faithful, and the caller keeps the
// whole tar instead. Rebuilding checks the digest as well, so a record can never silently give
// other bytes than the diffID names.
//
// Given a SpillSink (a load that keeps no staged copy of the layer), the first entry found not
// faithful is not applied at all: the record stops just before it, the sink rebuilds the bytes
// before it from that record and the files already written, the rest of the stream goes to the
// sink as it is, and nothing more is handed on to the parser. The layer is then extracted from
// the sink's file. Every check that can be made at a header is made there for this reason.
//
// Format (gzip of): a magic line, then items: 'R' u32 length, raw bytes; 'F' u16 path length,
// path (UTF-8), u64 size (two u32, high first).
import { Transform, type TransformCallback } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import { posix } from 'node:path';
import { cleanEntryName } from './entry.js';
import { decodePax, numeric } from './tarstream.js';
import { headerChecksum } from './tarheader.js';

export const RECORD_MAGIC = Buffer.from('strata-tar-split 1\n');

const BLOCK = 512;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
/** Raw bytes kept in memory before being packed into one 'R' item (a trailer's padding can be large). */
const RAW_ITEM_MAX = 1 << 20;
/** Items gathered before they are handed to the compressor (one call per item would cost more than it compresses). */
const BATCH = 256 << 10;
/**
 * Raw bytes one record may hold (headers are 0.5-1.5 KiB an entry): a tar that hides most of its
 * bytes where no file holds them (after its trailer) is kept whole instead of in memory.
 */
const RAW_TOTAL_MAX = 128 << 20;

function cstring(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

type Phase = 'header' | 'meta' | 'content' | 'skip' | 'tail';

/** Where a recorder puts the layer's tar once its record turns out unfaithful. */
export interface SpillSink {
  /**
   * The cut: `record`, a complete record of its own, gives back the stream's first `length`
   * bytes from the files of its first `entries` entries once the parser behind has written them
   * (it has been handed those bytes and nothing after them). Resolves once they are rebuilt.
   */
  start(record: Buffer, length: number, entries: number): Promise<void>;
  /** The stream's next bytes, from the cut on. */
  write(chunk: Buffer): Promise<void>;
}

/** Where the stream is cut for a spill: the sink gets `head` (bytes of an earlier chunk) and the chunk from `local` on; `pos`: the cut in the stream. */
interface Cut {
  local: number;
  /** Bytes of the chunk handed on: `local`, or none where the cut header began in an earlier chunk. */
  handed: number;
  head?: Buffer;
  pos: number;
  entries: number;
}

const USTAR = Buffer.from('ustar\0', 'latin1');
const GNU = Buffer.from('ustar  \0', 'latin1');

/**
 * Records the tar passing through (unchanged). `result()` once the stream has ended: the
 * gzipped record, or a reason it would not rebuild the tar faithfully.
 */
export class TarSplitRecorder extends Transform {
  /** The record is compressed as it is made: a layer of 100k entries never holds 50 MiB of headers. */
  private readonly gz: Gzip = createGzip({ level: 1 });
  private readonly out: Buffer[] = [];
  /**
   * Items not yet compressed, written straight into one buffer (a raw item's bytes copied once,
   * from the chunks' views): two or three small buffers and two copies per entry cost the
   * unpacking thread more than the compressor takes. Handed whole to the compressor, which
   * reads it later on its own thread; once it has, the buffer is filled again (memory touched
   * for the first time costs page faults, on a VM also the host's).
   */
  private stage: Buffer | null = null;
  private stageLen = 0;
  private readonly spareStages: Buffer[] = [];
  private raw: Buffer[] = [];
  private rawLen = 0;
  private phase: Phase = 'header';
  private block = Buffer.alloc(BLOCK);
  private blockLen = 0;
  /** Bytes left of the current phase's data (meta, content or skip). */
  private left = 0;
  private meta: Buffer[] = [];
  private metaType = 0;
  /** What the PAX / GNU headers before the next entry say. */
  private nextPath: string | undefined;
  private nextSize: number | undefined;
  private unfaithful: string | undefined;
  /** Every entry's cleaned name → whether it is a directory. */
  private readonly names = new Map<string, boolean>();
  /** Regular files whose content is recorded by path. */
  private readonly files = new Set<string>();
  /** Every directory above a file of `files`. */
  private readonly fileDirs = new Set<string>();
  /** Stream bytes before the chunk being scanned. */
  private pos = 0;
  /** Entries whose header was read (the parser behind sees the same ones, in the same order). */
  private begun = 0;
  /** The last entry's data has not all been read. */
  private entryOpen = false;
  private cut: Cut | undefined;
  /** The stream goes to the sink now, none of it to the parser. */
  private spilling = false;

  constructor(private readonly sink?: SpillSink) {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.gz.on('data', (c: Buffer) => this.out.push(c));
    this.gz.on('error', (err) => (this.unfaithful ??= `record: ${err.message}`));
    RECORD_MAGIC.copy(this.reserve(RECORD_MAGIC.length), 0);
    this.stageLen += RECORD_MAGIC.length;
  }

  /** Room for an item of `n` bytes at `stageLen` in the stage (handing the full stage over first). */
  private reserve(n: number): Buffer {
    if (this.stage && this.stageLen + n > this.stage.length) this.flushItems();
    if (!this.stage) {
      this.stage = (n <= BATCH && this.spareStages.pop()) || Buffer.allocUnsafeSlow(Math.max(BATCH, n));
      this.stageLen = 0;
    }
    return this.stage;
  }

  /** An item was written: the stage goes to the compressor once it holds a batch. */
  private itemAdded(): void {
    if (this.stageLen >= BATCH) this.flushItems();
  }

  private flushItems(): void {
    if (this.stageLen === 0 || this.unfaithful) return;
    const stage = this.stage!;
    // Called once the compressor has consumed the bytes and holds no reference to them.
    const consumed = () => {
      if (stage.length === BATCH && this.spareStages.length < 2) this.spareStages.push(stage);
    };
    this.gz.write(stage.subarray(0, this.stageLen), consumed);
    this.stage = null;
    this.stageLen = 0;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.spilling) {
      this.sink!.write(chunk).then(() => cb(), cb);
      return;
    }
    const handed = this.recordChunk(chunk);
    if (handed === chunk.length && !this.spilling) {
      cb(null, chunk);
      return;
    }
    if (handed > 0) this.push(chunk.subarray(0, handed));
    this.spillRest(chunk).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.endInput().then(() => cb(), cb);
  }

  /**
   * Records `chunk`, the stream's next bytes, synchronously; returns how many of its first bytes
   * go on to the parser: all of them, unless the stream is cut for a spill in this chunk (then
   * spillRest(chunk) must follow before anything else), or none once it spills.
   */
  recordChunk(chunk: Buffer): number {
    if (this.spilling) return 0;
    let off = 0;
    try {
      off = this.scan(chunk);
    } catch (err) {
      // The record is what fails, never the layer: the parser behind reports broken tars.
      this.unfaithful ??= (err as Error).message;
      this.phase = 'tail';
    }
    this.pos += off;
    const cut = this.cut;
    if (!cut) {
      this.pos += chunk.length - off;
      return chunk.length;
    }
    this.spilling = true;
    return cut.handed;
  }

  /** Whether the stream goes to the sink now (from the cut on): the parser gets nothing more. */
  get isSpilling(): boolean {
    return this.spilling;
  }

  /**
   * After recordChunk(chunk) cut the stream: rebuilds the bytes before the cut into the sink, then
   * writes it the cut's bytes and the rest of `chunk`; once spilling, writes `chunk` whole.
   */
  async spillRest(chunk: Buffer): Promise<void> {
    const cut = this.cut!;
    if (this.spillStarted) {
      await this.sink!.write(chunk);
      return;
    }
    this.spillStarted = true;
    const rest = chunk.subarray(cut.local);
    await this.startSpill(cut);
    if (cut.head) await this.sink!.write(cut.head);
    if (rest.length) await this.sink!.write(rest);
  }

  private spillStarted = false;

  /**
   * Copies what the record still holds of the chunks taken so far: a caller that reuses a
   * chunk's memory once recordChunk() returned calls this first.
   */
  detach(): void {
    if (this.raw.length > 1 || (this.raw.length === 1 && this.raw[0]!.length !== this.rawLen)) {
      this.raw = [Buffer.concat(this.raw, this.rawLen)];
    } else if (this.raw.length === 1) this.raw = [Buffer.from(this.raw[0]!)];
    if (this.meta.length > 0) this.meta = [Buffer.concat(this.meta)];
  }

  /** The stream has ended (the Transform's flush). */
  async endInput(): Promise<void> {
    // A tar that ends between two entries without its trailer: the files may be faithful, but
    // the record does not say so. (One that ends inside an entry is refused by the parser.)
    const between = this.phase === 'header' && this.blockLen === 0 && this.nextPath === undefined;
    if (this.sink && !this.spilling && !this.unfaithful && between) {
      this.cutHere('the tar has no trailer', 0);
      this.spilling = true;
      this.spillStarted = true;
      await this.startSpill(this.cut!);
      this.spilledWhole = true;
      return;
    }
    if (this.spilling) this.spilledWhole = true;
  }

  /** The whole stream went to the sink (from its cut on): set before the parser behind sees its end. */
  spilledWhole = false;

  /** Ends the record at the cut (the gzip member is ended there) and hands it to the sink. */
  private async startSpill(cut: Cut): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.gz.once('end', resolve);
      this.gz.once('error', reject);
      this.gz.end();
    });
    await this.sink!.start(Buffer.concat(this.out), cut.pos, cut.entries);
  }

  /**
   * The record is not faithful from here on: with a sink, the stream is cut at local offset
   * `local` of the chunk being scanned (`head`: bytes of the cut held from an earlier chunk),
   * the record so far is closed, and the scan stops.
   */
  private fail(why: string, local: number, head?: Buffer): void {
    if (this.sink && !this.unfaithful && !this.cut) {
      this.cutHere(why, local, head);
      return;
    }
    this.unfaithful ??= why;
    // Nothing more is recorded: the rest is only passed on.
    this.phase = 'tail';
    this.stage = null;
    this.stageLen = 0;
    this.raw = [];
    this.rawLen = 0;
  }

  private cutHere(why: string, local: number, head?: Buffer): void {
    this.flushRaw();
    this.flushItems();
    this.unfaithful = why;
    const entries = this.begun - (this.entryOpen ? 1 : 0);
    // A header completed from an earlier chunk's bytes takes this chunk's first ones: none is handed on.
    this.cut = { local, handed: head ? 0 : local, head, pos: this.pos + local - (head?.length ?? 0), entries };
  }

  /**
   * Keeps `b`, a view of a chunk handed on downstream (never changed there): the views are copied
   * into one buffer at the next file item or every RAW_ITEM_MAX bytes, so no chunk stays held.
   */
  private keep(b: Buffer): boolean {
    if (b.length === 0 || this.unfaithful) return true;
    if (this.rawTotal + b.length > RAW_TOTAL_MAX) return false;
    this.rawTotal += b.length;
    this.raw.push(b);
    this.rawLen += b.length;
    if (this.rawLen >= RAW_ITEM_MAX) this.flushRaw();
    return true;
  }

  private flushRaw(): void {
    if (this.rawLen === 0) return;
    const stage = this.reserve(5 + this.rawLen);
    let at = this.stageLen;
    stage[at] = 0x52; // 'R'
    stage.writeUInt32BE(this.rawLen, at + 1);
    at += 5;
    for (const part of this.raw) {
      stage.set(part, at); // TypedArray#set: no per-call view or range checks as Buffer#copy makes
      at += part.length;
    }
    this.stageLen = at;
    this.raw = [];
    this.rawLen = 0;
    this.itemAdded();
  }

  private fileItem(path: string, size: number): void {
    this.flushRaw();
    const pathLen = Buffer.byteLength(path, 'utf8');
    const stage = this.reserve(1 + 2 + pathLen + 8);
    const at = this.stageLen;
    stage[at] = 0x46; // 'F'
    stage.writeUInt16BE(pathLen, at + 1);
    stage.write(path, at + 3, 'utf8');
    stage.writeUInt32BE(Math.floor(size / 2 ** 32), at + 3 + pathLen);
    stage.writeUInt32BE(size % 2 ** 32, at + 7 + pathLen);
    this.stageLen = at + 11 + pathLen;
    this.itemAdded();
  }

  /** Scans a chunk; returns where it stopped: its end, or the cut of a spill. */
  private scan(chunk: Buffer): number {
    let off = 0;
    while (off < chunk.length && !this.cut) {
      if (this.phase === 'tail') {
        if (!this.keep(chunk.subarray(off))) this.fail('too many bytes outside its files', off);
        return this.cut ? off : chunk.length;
      }
      if (this.phase === 'header') {
        if (this.blockLen === 0 && chunk.length - off >= BLOCK) {
          off += BLOCK;
          const why = this.header(chunk.subarray(off - BLOCK, off));
          // Cut before the header: the parser behind never sees the entry.
          if (why) this.fail(why, off - BLOCK);
          continue;
        }
        const n = Math.min(BLOCK - this.blockLen, chunk.length - off);
        chunk.copy(this.block, this.blockLen, off, off + n);
        this.blockLen += n;
        off += n;
        if (this.blockLen === BLOCK) {
          this.blockLen = 0;
          const b = Buffer.from(this.block);
          const why = this.header(b);
          // The header began in an earlier chunk, handed on already: the parser behind holds
          // part of a header it will never complete.
          if (why) this.fail(why, off, b);
        }
        continue;
      }
      const n = Math.min(this.left, chunk.length - off);
      const part = chunk.subarray(off, off + n);
      if (this.phase !== 'content' && !this.keep(part)) {
        this.fail('too many bytes outside its files', off);
        break;
      }
      off += n;
      this.left -= n;
      if (this.phase === 'meta') this.meta.push(part);
      if (this.left === 0) {
        const why = this.endData();
        if (why) this.fail(why, off);
      }
    }
    return this.cut ? this.cut.local : chunk.length;
  }

  /** Reads one header block; returns why the record cannot go on from before it, if so (the block is then not kept). */
  private header(b: Buffer): string | undefined {
    if (b.equals(ZERO_BLOCK)) {
      // The trailer: everything from here on is kept as it is.
      if (!this.keep(b)) return 'too many bytes outside its files';
      this.phase = 'tail';
      return undefined;
    }
    // What the parser behind would refuse or skip is not handed to it: a file that is no tar at
    // all goes to the sink whole.
    const sum = headerChecksum(b);
    if (sum === 8 * 32 || sum !== numeric(b, 148, 8)) return 'a header with a bad checksum';
    const magic = b.subarray(257, 263);
    if (!magic.equals(USTAR) && !b.subarray(257, 265).equals(GNU)) return 'a header of an unknown format';
    const type = b[156]!;
    const headerSize = numeric(b, 124, 12);
    if (!Number.isSafeInteger(headerSize) || headerSize < 0) return 'unreadable size field';
    const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;
    const ch = String.fromCharCode(type);
    if (ch === 'x' || ch === 'g' || ch === 'L' || ch === 'K') {
      if (!this.keep(b)) return 'too many bytes outside its files';
      this.metaType = type;
      this.meta = [];
      this.left = padded(headerSize);
      this.metaSize = headerSize;
      this.phase = this.left > 0 ? 'meta' : 'header';
      if (this.left === 0) this.endMeta(); // no data: nothing to refuse
      return undefined;
    }
    let name = cstring(b, 0, 100);
    if (b.toString('latin1', 257, 262) === 'ustar') {
      const prefix = cstring(b, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.nextPath !== undefined) name = this.nextPath;
    const size = this.nextSize ?? headerSize;
    let cleaned: string | null;
    try {
      cleaned = cleanEntryName(name);
    } catch {
      return `entry ${JSON.stringify(name)} escapes the layer`;
    }
    const why = this.check(ch, name, cleaned, size);
    if (why) return why;
    if (!this.keep(b)) return 'too many bytes outside its files';
    this.nextPath = undefined;
    this.nextSize = undefined;
    this.begun++;
    this.entry(ch, name, cleaned, size);
    if (size === 0) {
      this.phase = 'header';
      return undefined;
    }
    this.entryOpen = true;
    this.left = padded(size);
    if (this.phase === 'content') {
      // Content by path, then its padding kept as it is.
      this.left = size;
      this.padding = padded(size) - size;
    }
    return undefined;
  }

  private metaSize = 0;
  private rawTotal = 0;
  private padding = 0;

  /** The end of a phase's data; returns why the record cannot go on from here, if so. */
  private endData(): string | undefined {
    if (this.phase === 'meta') {
      this.phase = 'header';
      return this.endMeta();
    }
    this.entryOpen = false;
    if (this.phase === 'content' && this.padding > 0) {
      this.phase = 'skip';
      this.left = this.padding;
      this.padding = 0;
      return undefined;
    }
    this.phase = 'header';
    return undefined;
  }

  /** Reads a PAX or GNU meta entry's data; returns why the record cannot go on, if so. */
  private endMeta(): string | undefined {
    const data = Buffer.concat(this.meta).subarray(0, this.metaSize);
    this.meta = [];
    const ch = String.fromCharCode(this.metaType);
    if (ch === 'L') this.nextPath = cstring(data, 0, data.length);
    else if (ch === 'x' || ch === 'g') {
      let pax: Record<string, string>;
      try {
        pax = decodePax(data);
      } catch (err) {
        // The parser behind this stage reports the same header in its own words.
        return (err as Error).message;
      }
      if (ch === 'g') {
        if (Object.hasOwn(pax, 'path') || Object.hasOwn(pax, 'size')) return 'a global PAX header sets a path or size';
        return undefined;
      }
      if (Object.hasOwn(pax, 'path')) this.nextPath = pax.path;
      if (Object.hasOwn(pax, 'size')) this.nextSize = Number(pax.size);
      if (Object.keys(pax).some((k) => k.startsWith('GNU.sparse.'))) return 'a sparse entry';
    }
    return undefined;
  }

  /**
   * Why an entry, its header just read, makes the record unfaithful, if it does: decided before
   * the entry is applied, so that a spill rebuilds the bytes before it from files it has not yet
   * overwritten or removed. `name`: `rawName` cleaned (null: an entry for the root itself).
   */
  private check(ch: string, rawName: string, name: string | null, size: number): string | undefined {
    const isFile = ch === '0' || ch === '\0' || ch === '7';
    // tar-stream reads an old-style file whose name ends in '/' as a directory.
    const isDir = ch === '5' || (ch === '\0' && rawName.endsWith('/'));
    if (!isFile && !'12345'.includes(ch) && ch !== '6')
      return `entry ${JSON.stringify(rawName)} of type ${JSON.stringify(ch)}`;
    // The applier refuses these (apply.ts, HEADER_ONLY): they go to the sink with the rest.
    if (size > 0 && (isDir || '123456'.includes(ch))) return `entry ${JSON.stringify(rawName)} carries data`;
    if (name === null) return undefined;
    const prev = this.names.get(name);
    if (prev !== undefined && !(prev && isDir)) return `${name} appears twice`;
    const base = posix.basename(name);
    if (base.startsWith('.wh.')) {
      if (size > 0) return `whiteout ${name} has content`;
      const dir = posix.dirname(name) === '.' ? '' : posix.dirname(name);
      // A whiteout removes what is there when it is applied: files of this layer before it.
      const opaque = base === '.wh..wh..opq';
      const target = opaque ? dir : posix.join(dir, base.slice(4));
      for (const f of this.files)
        if ((!opaque && f === target) || target === '' || f.startsWith(target + '/'))
          return `${f} is removed by a whiteout of the same layer`;
      return undefined;
    }
    // A file under a path another entry of this tar makes no directory (before or after it).
    if (!isDir && this.fileDirs.has(name)) return `a file lies under ${name}, which is not a directory`;
    if (isFile && !isDir && size > 0) {
      for (let d = posix.dirname(name); d !== '.'; d = posix.dirname(d))
        if (this.names.get(d) === false) return `${name} lies under ${d}, which is not a directory`;
    }
    return undefined;
  }

  /** One entry's header read (and checked): decides whether its content is recorded by path. */
  private entry(ch: string, rawName: string, name: string | null, size: number): void {
    this.phase = size > 0 ? 'skip' : 'header';
    if (name === null) return;
    const isFile = ch === '0' || ch === '\0' || ch === '7';
    const isDir = ch === '5' || (ch === '\0' && rawName.endsWith('/'));
    this.names.set(name, isDir);
    if (posix.basename(name).startsWith('.wh.')) return;
    if (isFile && !isDir && size > 0) {
      this.files.add(name);
      for (let d = posix.dirname(name); d !== '.' && !this.fileDirs.has(d); d = posix.dirname(d)) this.fileDirs.add(d);
      this.fileItem(name, size);
      this.phase = 'content';
    }
  }

  /** Checks that apply only once every entry is known. */
  private finalCheck(): string | undefined {
    if (this.unfaithful) return this.unfaithful;
    if (this.phase !== 'tail') return 'the tar has no trailer';
    for (const f of this.files) {
      for (let d = posix.dirname(f); d !== '.'; d = posix.dirname(d)) {
        if (this.names.get(d) === false) return `${f} lies under ${d}, which is not a directory`;
      }
    }
    return undefined;
  }

  /** The gzipped record, or why it would not rebuild the tar faithfully. */
  async result(): Promise<{ record: Buffer } | { unfaithful: string }> {
    let why = this.finalCheck();
    if (!why) {
      this.flushRaw();
      this.flushItems();
      await new Promise<void>((resolve) => {
        this.gz.once('end', resolve);
        this.gz.once('error', () => resolve());
        this.gz.end();
      });
      why = this.unfaithful;
    }
    if (why) {
      this.gz.destroy();
      return { unfaithful: why };
    }
    return { record: Buffer.concat(this.out) };
  }
}
