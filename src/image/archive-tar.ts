// A synchronous, chunk-driven reader of an image archive's outer tar. It parses the bytes as
// they come off the socket and hands each entry's data to that entry's sink as views of the
// incoming chunk: no stream, Promise or Readable per chunk, which for a 1 GiB upload in 32 KiB
// pieces was a large part of the main thread's work in a load.
//
// It reads exactly as tar-stream's extractor does (the same header decoder, GNU long names and
// PAX headers, a global PAX header merged into the next local one only, padding, zero blocks
// skipped, the same errors), as archive/batch-unpack.ts does for layers.
import type { TarHeaders } from '../archive/tarstream.js';
import { BLOCK, overflow, TarLongHeaders } from '../archive/tar-long-headers.js';

/** Where one entry's data goes. */
export interface TarEntrySink {
  /** A view of the incoming chunk: valid as long as the chunk is (it is not reused). */
  data(chunk: Buffer): void;
  /** All its data is in; a promise holds the next entry back until it settles. */
  end(): void | Promise<void>;
}

type Mode = 'header' | 'long' | 'data' | 'skip';

export class ArchiveTarReader {
  private mode: Mode = 'header';
  private missing = 0;
  /** A header block begun in an earlier chunk (copied). */
  private readonly block = Buffer.alloc(BLOCK);
  private blockLen = 0;
  private readonly longHeaders = new TarLongHeaders();
  private sink: TarEntrySink | null = null;
  private padding = 0;

  /** `onEntry` gets each entry's header (names as tar-stream gives them); null skips its data. */
  constructor(private readonly onEntry: (header: TarHeaders) => TarEntrySink | null) {}

  /**
   * Parses `buf`. Where an entry's end returns a promise, the rest of `buf` waits for it: the
   * promise returned settles once all of `buf` is parsed (feed nothing more meanwhile).
   * Throws (or rejects with) tar-stream's errors.
   */
  feed(buf: Buffer): void | Promise<void> {
    let off = 0;
    const len = buf.length;
    while (off < len) {
      if (this.missing > 0) {
        const n = Math.min(this.missing, len - off);
        if (this.mode === 'data') this.sink?.data(off === 0 && n === len ? buf : buf.subarray(off, off + n));
        else if (this.mode === 'long') this.longHeaders.gather(buf, off, n);
        off += n;
        this.missing -= n;
        if (this.missing === 0) {
          const wait = this.endData();
          if (wait) return this.after(wait, buf.subarray(off));
        }
        continue;
      }
      let wait: void | Promise<void> = undefined;
      if (this.blockLen === 0 && len - off >= BLOCK) {
        wait = this.header(buf.subarray(off, off + BLOCK));
        off += BLOCK;
      } else {
        const n = Math.min(BLOCK - this.blockLen, len - off);
        buf.copy(this.block, this.blockLen, off, off + n);
        this.blockLen += n;
        off += n;
        if (this.blockLen === BLOCK) {
          this.blockLen = 0;
          wait = this.header(this.block);
        }
      }
      if (wait) return this.after(wait, buf.subarray(off));
    }
  }

  /** The input has ended: throws tar-stream's error if it ended inside a block or an entry. */
  end(): void {
    if (this.missing !== 0 || this.blockLen !== 0) throw new Error('Unexpected end of data');
  }

  private async after(wait: Promise<void>, rest: Buffer): Promise<void> {
    await wait;
    if (rest.length > 0) await this.feed(rest);
  }

  private endData(): void | Promise<void> {
    switch (this.mode) {
      case 'data': {
        const sink = this.sink;
        this.sink = null;
        this.skip(this.padding);
        return sink?.end();
      }
      case 'long':
        this.skip(this.longHeaders.end());
        return;
      default:
        this.mode = 'header';
    }
  }

  private skip(n: number): void {
    this.mode = n > 0 ? 'skip' : 'header';
    this.missing = n;
  }

  private header(block: Buffer): void | Promise<void> {
    const h = this.longHeaders.read(block);
    if (h === null) return;
    if (typeof h === 'number') {
      this.mode = 'long';
      this.missing = h;
      if (h === 0) this.endData();
      return;
    }
    // tar-stream hands a directory no data, whatever its size field says.
    const size = h.type === 'directory' ? 0 : (h.size ?? 0);
    this.sink = this.onEntry(h);
    this.mode = 'data';
    this.missing = size;
    this.padding = overflow(size);
    if (size === 0) return this.endData();
  }
}
