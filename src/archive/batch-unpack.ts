// A tar reader that applies a layer from whole batches of its bytes, synchronously: each batch
// is parsed and its entries written before feed() returns, so no stream, Promise or per-entry
// Readable is made, a regular file's data goes straight from the batch into write(2), and the
// batch's memory may be reused as soon as feed() returns (nothing here keeps a view of it).
//
// It reads exactly as tar-stream's extractor does (tarstream.ts): the same header decoder, the
// same GNU long name and PAX handling (a global PAX header merges into the next local one only),
// padding, zero blocks skipped, the same errors; and each entry goes through the same checks and
// the same confined writer as unpack() in apply.ts, with the same error text.
import type { TarHeaders } from './tarstream.js';
import { decodeHeader, decodeLongPath, decodePax } from './tarstream.js';
import { InvalidParameter } from '../errors.js';
import { toEntry } from './entry.js';
import type { WhiteoutApplier } from './whiteout.js';
import type { EntryWriter, FileSink } from './writer.js';
import { diffSizeOf, HEADER_ONLY, naming } from './apply.js';

const BLOCK = 512;
/** tar-stream's bound on one PAX or GNU long-name entry. */
const MAX_HEADER_SIZE = 4 * 1024 * 1024;

type Mode = 'header' | 'long' | 'file' | 'skip';

/** Padding after `size` bytes of data, to the next block. */
function overflow(size: number): number {
  const r = size & 511;
  return r && BLOCK - r;
}

export class BatchUnpacker {
  private mode: Mode = 'header';
  /** Bytes left of the current data (file, long header or skipped). */
  private missing = 0;
  /** A header block begun in an earlier batch (copied: the batch is not kept). */
  private readonly block = Buffer.alloc(BLOCK);
  private blockLen = 0;
  /** A PAX / long-name header whose data is being gathered. */
  private long: TarHeaders | null = null;
  private longData: Buffer | null = null;
  private longLen = 0;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private gnuLongPath: string | null = null;
  private gnuLongLinkPath: string | null = null;
  /** The file whose data is being written, and its name for messages. */
  private file: FileSink | null = null;
  private fileName = '';
  /** Entries written whole. */
  written = 0;

  constructor(
    private readonly writer: EntryWriter,
    private readonly whiteouts: WhiteoutApplier,
    private readonly diffSize: { bytes: number },
  ) {}

  /** Parses and applies `buf`'s bytes; throws what unpack() would reject with. */
  feed(buf: Buffer): void {
    let off = 0;
    const len = buf.length;
    while (off < len) {
      if (this.missing > 0) {
        const n = Math.min(this.missing, len - off);
        if (this.mode === 'file') this.writeFile(buf, off, n);
        else if (this.mode === 'long') this.gather(buf, off, n);
        off += n;
        this.missing -= n;
        if (this.missing === 0) this.endData();
        continue;
      }
      if (this.blockLen === 0 && len - off >= BLOCK) {
        this.header(buf.subarray(off, off + BLOCK));
        off += BLOCK;
        continue;
      }
      const n = Math.min(BLOCK - this.blockLen, len - off);
      buf.copy(this.block, this.blockLen, off, off + n);
      this.blockLen += n;
      off += n;
      if (this.blockLen === BLOCK) {
        this.blockLen = 0;
        this.header(this.block);
      }
    }
  }

  /** The input has ended: throws tar-stream's error if it ended inside a block or an entry. */
  end(): void {
    if (this.missing !== 0 || this.blockLen !== 0) throw new Error('Unexpected end of data');
  }

  /** Closes a file left open by a failure (its descriptor only: nothing more is written). */
  abort(): void {
    this.file?.abort();
    this.file = null;
  }

  private writeFile(buf: Buffer, off: number, n: number): void {
    if (!this.file) return; // data of an entry not written (refused earlier: never reached)
    try {
      this.file.write(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
    } catch (err) {
      this.abort();
      throw naming(err, this.fileName);
    }
  }

  private gather(buf: Buffer, off: number, n: number): void {
    // Kept whole (up to 4 MiB) as tar-stream does, and copied: the batch goes back.
    buf.copy(this.longData!, this.longLen, off, off + n);
    this.longLen += n;
  }

  /** The current data has all arrived. */
  private endData(): void {
    switch (this.mode) {
      case 'file': {
        const file = this.file;
        this.file = null;
        if (file) {
          try {
            file.close();
          } catch (err) {
            throw naming(err, this.fileName);
          }
        }
        this.written++;
        this.skip(this.padding);
        return;
      }
      case 'long': {
        const h = this.long!;
        const data = this.longData!.subarray(0, h.size ?? 0);
        this.long = null;
        this.longData = null;
        this.decodeLong(h, data);
        this.skip(overflow(h.size ?? 0));
        return;
      }
      default:
        this.mode = 'header';
    }
  }

  private padding = 0;

  private skip(n: number): void {
    this.mode = n > 0 ? 'skip' : 'header';
    this.missing = n;
  }

  private decodeLong(h: TarHeaders, data: Buffer): void {
    switch (h.type as string) {
      case 'gnu-long-path':
        this.gnuLongPath = decodeLongPath(data);
        break;
      case 'gnu-long-link-path':
        this.gnuLongLinkPath = decodeLongPath(data);
        break;
      case 'pax-global-header':
        this.paxGlobal = decodePax(data);
        break;
      case 'pax-header':
        this.pax = this.paxGlobal === null ? decodePax(data) : Object.assign({}, this.paxGlobal, decodePax(data));
        break;
    }
  }

  private header(block: Buffer): void {
    const h = decodeHeader(block);
    if (h === null) return; // a zero block (the trailer): skipped, as tar-stream does
    switch (h.type as string) {
      case 'gnu-long-path':
      case 'gnu-long-link-path':
      case 'pax-global-header':
      case 'pax-header': {
        const size = h.size ?? 0;
        if (size > MAX_HEADER_SIZE) throw new Error('Header exceeds max size');
        this.long = h;
        this.longData = Buffer.allocUnsafe(size);
        this.longLen = 0;
        this.mode = 'long';
        this.missing = size;
        if (size === 0) this.endData();
        return;
      }
    }
    this.applyLongHeaders(h);
    if (!((h.size as number) >= 0)) throw new Error('Invalid header');
    this.entry(h);
  }

  private applyLongHeaders(h: TarHeaders): void {
    if (this.gnuLongPath) {
      h.name = this.gnuLongPath;
      this.gnuLongPath = null;
    }
    if (this.gnuLongLinkPath) {
      h.linkname = this.gnuLongLinkPath;
      this.gnuLongLinkPath = null;
    }
    if (this.pax) {
      if (this.pax.path) h.name = this.pax.path;
      if (this.pax.linkpath) h.linkname = this.pax.linkpath;
      if (this.pax.size) h.size = parseInt(this.pax.size, 10);
      h.pax = this.pax;
      this.pax = null;
    }
  }

  /** One entry's header: checked and written as unpack() in apply.ts does. */
  private entry(h: TarHeaders): void {
    const size = h.size ?? 0;
    this.diffSize.bytes += diffSizeOf(h);
    if (HEADER_ONLY.has(h.type as string) && size > 0) {
      throw new InvalidParameter(
        `invalid tar: ${h.type} entry ${JSON.stringify(h.name)} carries ${size} bytes of data`,
      );
    }
    // tar-stream hands a directory no data, whatever its size field says.
    const dataSize = h.type === 'directory' ? 0 : size;
    let e;
    let whiteout = false;
    try {
      e = toEntry(h);
      this.writer.rules?.check(h, e);
      if (e !== null && this.whiteouts.apply(e)) {
        this.writer.untallied(); // a whiteout made or removed what the writer does not count
        whiteout = true;
      }
    } catch (err) {
      throw naming(err, h.name);
    }
    if (e === null || whiteout || e.type !== 'file') {
      if (e !== null && !whiteout) {
        try {
          this.writer.writeHeaderOnly(e);
        } catch (err) {
          throw naming(err, e.rawName);
        }
      }
      if (dataSize === 0) {
        this.written++;
        return;
      }
      // Data nobody writes (a whiteout's, the root's): skipped with its padding.
      this.mode = 'file';
      this.file = null;
      this.missing = dataSize;
      this.padding = overflow(dataSize);
      return;
    }
    try {
      this.file = this.writer.openFile(e);
    } catch (err) {
      throw naming(err, e.rawName);
    }
    this.fileName = e.rawName;
    this.mode = 'file';
    this.missing = dataSize;
    this.padding = overflow(dataSize);
    if (dataSize === 0) this.endData();
  }
}
