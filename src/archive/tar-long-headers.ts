// What a chunk-driven tar reader makes of each header block, and keeps between blocks besides
// its position: the PAX and GNU long-name headers that name, size or annotate the next entry.
// Read exactly as tar-stream's extractor does (tarstream.ts): the same decoders, a global PAX
// header merged into the next local one only, the same 4 MiB bound and errors. Shared by the
// layer reader (batch-unpack.ts) and an image archive's outer reader (image/archive-tar.ts).
import type { TarHeaders } from './tarstream.js';
import { decodeHeader, decodeLongPath, decodePax } from './tarstream.js';

export const BLOCK = 512;
/** tar-stream's bound on one PAX or GNU long-name entry. */
const MAX_HEADER_SIZE = 4 * 1024 * 1024;

/** Padding after `size` bytes of data, to the next block. */
export function overflow(size: number): number {
  const r = size & 511;
  return r && BLOCK - r;
}

export class TarLongHeaders {
  /** A PAX / long-name header whose data is being gathered. */
  private long: TarHeaders | null = null;
  private data: Buffer | null = null;
  private len = 0;
  private pax: Record<string, string> | null = null;
  private paxGlobal: Record<string, string> | null = null;
  private gnuLongPath: string | null = null;
  private gnuLongLinkPath: string | null = null;

  /**
   * What a header block is: null for a zero block (the trailer, skipped as tar-stream does); a
   * number for a PAX or long-name header, the size of its data, then passed to gather() (and
   * end() called once it is all in); else the next entry's header, with what those headers
   * said applied. Throws tar-stream's errors for a broken block.
   */
  read(block: Buffer): TarHeaders | number | null {
    const h = decodeHeader(block);
    if (h === null) return null;
    const longSize = this.begin(h);
    if (longSize !== undefined) return longSize;
    this.apply(h);
    if (!((h.size as number) >= 0)) throw new Error('Invalid header');
    return h;
  }

  /** When `h` is a PAX or long-name header, starts gathering its data and returns its size; else undefined. */
  private begin(h: TarHeaders): number | undefined {
    switch (h.type as string) {
      case 'gnu-long-path':
      case 'gnu-long-link-path':
      case 'pax-global-header':
      case 'pax-header': {
        const size = h.size ?? 0;
        if (size > MAX_HEADER_SIZE) throw new Error('Header exceeds max size');
        this.long = h;
        this.data = Buffer.allocUnsafe(size);
        this.len = 0;
        return size;
      }
      default:
        return undefined;
    }
  }

  /** Copies `n` bytes of the header's data at `off` (kept whole, as tar-stream does: the chunk is not kept). */
  gather(buf: Buffer, off: number, n: number): void {
    buf.copy(this.data!, this.len, off, off + n);
    this.len += n;
  }

  /** The header's data is all in: decodes it, and returns the padding to skip after it. */
  end(): number {
    const h = this.long!;
    const size = h.size ?? 0;
    const data = this.data!.subarray(0, size);
    this.long = null;
    this.data = null;
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
    return overflow(size);
  }

  /** Gives an entry's header what the headers before it said (name, link, size, PAX records). */
  private apply(h: TarHeaders): void {
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
}
