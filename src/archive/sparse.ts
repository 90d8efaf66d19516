// Writes the data of a sparse tar entry (entry.ts's SparseLayout) into an open file: each stored
// segment at its offset, the holes left unwritten, the file then extended to its real size with
// ftruncate. Writing the holes as zeros, as Docker does, would let a small tar claim terabytes
// of disk and hours of writing; unwritten holes read back as the same zeros and cost nothing.
// For PAX 1.0 the map opens the data (decimal numbers, one per line, padded to a 512-byte
// block) and is parsed as it arrives.
import { ftruncateSync, writeSync } from 'node:fs';
import { InvalidParameter } from '../errors.js';
import { isErrno } from './confine.js';
import { checkSparseMap, MAX_SPARSE_SEGMENTS, type SparseLayout } from './entry.js';

/** A decimal number of a PAX 1.0 map is at most this long (2^53 has 16 digits). */
const MAX_DIGITS = 20;

export class SparseSink {
  private map: Array<[number, number]> | null;
  private seg = 0;
  private segDone = 0;
  /** PAX 1.0 map parsing: numbers read so far, the current line, bytes of map text consumed. */
  private numbers: number[] = [];
  private line = '';
  private mapBytes = 0;
  private skip = 0;

  constructor(
    private readonly fd: number,
    private readonly layout: SparseLayout,
    private readonly size: number,
    private readonly name: string,
  ) {
    this.map = layout.map;
  }

  private error(why: string): InvalidParameter {
    return new InvalidParameter(`invalid tar: sparse entry ${JSON.stringify(this.name)}: ${why}`);
  }

  /** Consumes map text from `chunk`; returns where the map (with its padding) ended, or chunk.length. */
  private parseMap(chunk: Buffer, from: number): number {
    let off = from;
    while (off < chunk.length) {
      const nl = chunk.indexOf(0x0a, off);
      const end = nl < 0 ? chunk.length : nl;
      this.line += chunk.toString('latin1', off, end);
      this.mapBytes += end - off;
      if (this.line.length > MAX_DIGITS) throw this.error('malformed sparse map');
      if (nl < 0) return chunk.length;
      this.mapBytes++;
      off = nl + 1;
      if (!/^\d+$/.test(this.line)) throw this.error('malformed sparse map');
      this.numbers.push(Number(this.line));
      this.line = '';
      const count = this.numbers[0]!;
      if (count > MAX_SPARSE_SEGMENTS) throw this.error(`more than ${MAX_SPARSE_SEGMENTS} segments`);
      if (this.numbers.length === 1 + 2 * count) {
        const map: Array<[number, number]> = [];
        for (let i = 1; i < this.numbers.length; i += 2) map.push([this.numbers[i]!, this.numbers[i + 1]!]);
        checkSparseMap(this.name, map, this.layout.realSize);
        this.skip = (512 - (this.mapBytes % 512)) % 512;
        const stored = map.reduce((a, [, len]) => a + len, 0);
        if (this.mapBytes + this.skip + stored !== this.size) {
          throw this.error(`the map holds ${stored} bytes, the entry ${this.size - this.mapBytes - this.skip}`);
        }
        this.map = map;
        this.numbers = [];
        return off;
      }
    }
    return off;
  }

  push(chunk: Buffer): void {
    let off = 0;
    if (this.map === null) {
      off = this.parseMap(chunk, 0);
      if (this.map === null) return;
    }
    const map = this.map;
    while (off < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - off);
        this.skip -= n;
        off += n;
        continue;
      }
      const seg = map[this.seg];
      if (seg === undefined) throw this.error('more data than the map describes');
      const want = seg[1] - this.segDone;
      if (want === 0) {
        this.seg++;
        this.segDone = 0;
        continue;
      }
      const n = Math.min(want, chunk.length - off);
      let done = 0;
      while (done < n) done += writeSync(this.fd, chunk, off + done, n - done, seg[0] + this.segDone + done);
      this.segDone += n;
      off += n;
    }
  }

  /** Checks that every segment arrived and gives the file its real size. */
  end(): void {
    if (this.map === null) throw this.error('truncated sparse map');
    for (let i = this.seg; i < this.map.length; i++) {
      const done = i === this.seg ? this.segDone : 0;
      if (done !== this.map[i]![1]) throw this.error('less data than the map describes');
    }
    try {
      ftruncateSync(this.fd, this.layout.realSize);
    } catch (err) {
      if (isErrno(err, 'EFBIG', 'EINVAL'))
        throw this.error(`real size ${this.layout.realSize} is more than the filesystem can hold`);
      throw err;
    }
  }
}
