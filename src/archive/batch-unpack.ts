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
import { BLOCK, overflow, TarLongHeaders } from './tar-long-headers.js';
import { InvalidParameter } from '../errors.js';
import { toEntry } from './entry.js';
import type { WhiteoutApplier } from './whiteout.js';
import type { EntryWriter, FileSink } from './writer.js';
import { diffSizeOf, HEADER_ONLY, naming } from './apply.js';

type Mode = 'header' | 'long' | 'file' | 'skip';

export class BatchUnpacker {
  private mode: Mode = 'header';
  /** Bytes left of the current data (file, long header or skipped). */
  private missing = 0;
  /** A header block begun in an earlier batch (copied: the batch is not kept). */
  private readonly block = Buffer.alloc(BLOCK);
  private blockLen = 0;
  private readonly longHeaders = new TarLongHeaders();
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
        else if (this.mode === 'long') this.longHeaders.gather(buf, off, n);
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
      case 'long':
        this.skip(this.longHeaders.end());
        return;
      default:
        this.mode = 'header';
    }
  }

  private padding = 0;

  private skip(n: number): void {
    this.mode = n > 0 ? 'skip' : 'header';
    this.missing = n;
  }

  private header(block: Buffer): void {
    const h = this.longHeaders.read(block);
    if (h === null) return;
    if (typeof h === 'number') {
      this.mode = 'long';
      this.missing = h;
      if (h === 0) this.endData();
      return;
    }
    this.entry(h);
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
