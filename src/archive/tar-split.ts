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
// Format (gzip of): a magic line, then items: 'R' u32 length, raw bytes; 'F' u16 path length,
// path (UTF-8), u64 size (two u32, high first).
import { Transform, type TransformCallback } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import { posix } from 'node:path';
import { cleanEntryName } from './entry.js';
import { decodePax, numeric } from './tarstream.js';

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

/**
 * Records the tar passing through (unchanged). `result()` once the stream has ended: the
 * gzipped record, or a reason it would not rebuild the tar faithfully.
 */
export class TarSplitRecorder extends Transform {
  /** The record is compressed as it is made: a layer of 100k entries never holds 50 MiB of headers. */
  private readonly gz: Gzip = createGzip({ level: 1 });
  private readonly out: Buffer[] = [];
  private items: Buffer[] = [];
  private itemsLen = 0;
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

  constructor() {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.gz.on('data', (c: Buffer) => this.out.push(c));
    this.gz.on('error', (err) => (this.unfaithful ??= `record: ${err.message}`));
    this.addItem(RECORD_MAGIC);
  }

  private addItem(...parts: Buffer[]): void {
    for (const p of parts) {
      this.items.push(p);
      this.itemsLen += p.length;
    }
    if (this.itemsLen >= BATCH) this.flushItems();
  }

  private flushItems(): void {
    if (this.itemsLen === 0 || this.unfaithful) return;
    this.gz.write(Buffer.concat(this.items, this.itemsLen));
    this.items = [];
    this.itemsLen = 0;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.scan(chunk);
    } catch (err) {
      // The record is what fails, never the layer: the parser behind reports broken tars.
      this.unfaithful ??= (err as Error).message;
      this.phase = 'tail';
    }
    cb(null, chunk);
  }

  /**
   * Keeps `b`, a view of a chunk handed on downstream (never changed there): the views are copied
   * into one buffer at the next file item or every RAW_ITEM_MAX bytes, so no chunk stays held.
   */
  private keep(b: Buffer): void {
    if (b.length === 0 || this.unfaithful) return;
    this.rawTotal += b.length;
    if (this.rawTotal > RAW_TOTAL_MAX) {
      this.unfaithful = 'too many bytes outside its files';
      this.items = [];
      this.itemsLen = 0;
      this.raw = [];
      this.rawLen = 0;
      return;
    }
    this.raw.push(b);
    this.rawLen += b.length;
    if (this.rawLen >= RAW_ITEM_MAX) this.flushRaw();
  }

  private flushRaw(): void {
    if (this.rawLen === 0) return;
    const head = Buffer.alloc(5);
    head[0] = 0x52; // 'R'
    head.writeUInt32BE(this.rawLen, 1);
    this.addItem(head, Buffer.concat(this.raw, this.rawLen));
    this.raw = [];
    this.rawLen = 0;
  }

  private fileItem(path: string, size: number): void {
    this.flushRaw();
    const p = Buffer.from(path, 'utf8');
    const head = Buffer.alloc(1 + 2 + p.length + 8);
    head[0] = 0x46; // 'F'
    head.writeUInt16BE(p.length, 1);
    p.copy(head, 3);
    head.writeUInt32BE(Math.floor(size / 2 ** 32), 3 + p.length);
    head.writeUInt32BE(size % 2 ** 32, 7 + p.length);
    this.addItem(head);
  }

  private scan(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.phase === 'tail') {
        this.keep(chunk.subarray(off));
        return;
      }
      if (this.phase === 'header') {
        if (this.blockLen === 0 && chunk.length - off >= BLOCK) {
          off += BLOCK;
          this.header(chunk.subarray(off - BLOCK, off));
          continue;
        }
        const n = Math.min(BLOCK - this.blockLen, chunk.length - off);
        chunk.copy(this.block, this.blockLen, off, off + n);
        this.blockLen += n;
        off += n;
        if (this.blockLen === BLOCK) {
          this.blockLen = 0;
          this.header(Buffer.from(this.block));
        }
        continue;
      }
      const n = Math.min(this.left, chunk.length - off);
      const part = chunk.subarray(off, off + n);
      off += n;
      this.left -= n;
      if (this.phase === 'meta') this.meta.push(part);
      if (this.phase !== 'content') this.keep(part);
      if (this.left === 0) this.endData();
    }
  }

  private header(b: Buffer): void {
    this.keep(b);
    if (b.equals(ZERO_BLOCK)) {
      // The trailer: everything from here on is kept as it is.
      this.phase = 'tail';
      return;
    }
    const type = b[156]!;
    const headerSize = numeric(b, 124, 12);
    if (!Number.isSafeInteger(headerSize) || headerSize < 0) throw new Error('unreadable size field');
    const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;
    const ch = String.fromCharCode(type);
    if (ch === 'x' || ch === 'g' || ch === 'L' || ch === 'K') {
      this.metaType = type;
      this.meta = [];
      this.left = padded(headerSize);
      this.metaSize = headerSize;
      this.phase = this.left > 0 ? 'meta' : 'header';
      if (this.left === 0) this.endMeta();
      return;
    }
    let name = cstring(b, 0, 100);
    if (b.toString('latin1', 257, 262) === 'ustar') {
      const prefix = cstring(b, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (this.nextPath !== undefined) name = this.nextPath;
    const size = this.nextSize ?? headerSize;
    this.nextPath = undefined;
    this.nextSize = undefined;
    this.entry(ch, name, size);
    if (size === 0) {
      this.phase = 'header';
      return;
    }
    this.left = padded(size);
    if (this.phase === 'content') {
      // Content by path, then its padding kept as it is.
      this.left = size;
      this.padding = padded(size) - size;
    }
  }

  private metaSize = 0;
  private rawTotal = 0;
  private padding = 0;

  private endData(): void {
    if (this.phase === 'meta') {
      this.endMeta();
      this.phase = 'header';
      return;
    }
    if (this.phase === 'content' && this.padding > 0) {
      this.phase = 'skip';
      this.left = this.padding;
      this.padding = 0;
      return;
    }
    this.phase = 'header';
  }

  private endMeta(): void {
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
        this.unfaithful ??= (err as Error).message;
        return;
      }
      if (ch === 'g') {
        if (Object.hasOwn(pax, 'path') || Object.hasOwn(pax, 'size'))
          this.unfaithful ??= 'a global PAX header sets a path or size';
        return;
      }
      if (Object.hasOwn(pax, 'path')) this.nextPath = pax.path;
      if (Object.hasOwn(pax, 'size')) this.nextSize = Number(pax.size);
      if (Object.keys(pax).some((k) => k.startsWith('GNU.sparse.'))) this.unfaithful ??= 'a sparse entry';
    }
  }

  /** One entry's header read: decides whether its content is recorded by path. */
  private entry(ch: string, rawName: string, size: number): void {
    this.phase = size > 0 ? 'skip' : 'header';
    let name: string | null;
    try {
      name = cleanEntryName(rawName);
    } catch {
      this.unfaithful ??= `entry ${JSON.stringify(rawName)} escapes the layer`;
      return;
    }
    const isFile = ch === '0' || ch === '\0' || ch === '7';
    // tar-stream reads an old-style file whose name ends in '/' as a directory.
    const isDir = ch === '5' || (ch === '\0' && rawName.endsWith('/'));
    if (!isFile && !'12345'.includes(ch) && ch !== '6') {
      this.unfaithful ??= `entry ${JSON.stringify(rawName)} of type ${JSON.stringify(ch)}`;
      return;
    }
    if (name === null) return;
    const prev = this.names.get(name);
    if (prev !== undefined && !(prev && isDir)) this.unfaithful ??= `${name} appears twice`;
    this.names.set(name, isDir);
    const base = posix.basename(name);
    if (base.startsWith('.wh.')) {
      if (size > 0) this.unfaithful ??= `whiteout ${name} has content`;
      const dir = posix.dirname(name) === '.' ? '' : posix.dirname(name);
      // A whiteout removes what is there when it is applied: files of this layer before it.
      const opaque = base === '.wh..wh..opq';
      const target = opaque ? dir : posix.join(dir, base.slice(4));
      for (const f of this.files)
        if ((!opaque && f === target) || target === '' || f.startsWith(target + '/'))
          this.unfaithful ??= `${f} is removed by a whiteout of the same layer`;
      return;
    }
    if (isFile && !isDir && size > 0) {
      this.files.add(name);
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
