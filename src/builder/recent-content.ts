// Files of recent build contexts, kept in memory for a while so that a rebuild can show a file
// unchanged by comparing its bytes with the copy kept here, and reuse its sum: comparing memory
// runs several times faster than SHA-256, and a rebuild's time is mostly the context. Nothing
// but the bytes is trusted — the hashed header and the content, never sizes or times alone: a
// file that differs anywhere is hashed as usual.
import crypto from 'node:crypto';

export interface KnownFile {
  /** The header bytes hashed before the content (see tarsum.ts). */
  header: Buffer;
  size: number;
  /** The file's bytes, in order (the buffers the context arrived in; never written to). */
  chunks: Buffer[];
  /** sha256 (hex) of header then bytes. */
  digest: string;
}

export class RecentContent {
  private readonly files = new Map<string, KnownFile>();
  private held = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Most bytes kept; the oldest files go first. */
    private readonly budget = 128 << 20,
    /** Everything is let go after this long without a build. */
    private readonly keepMs = 10 * 60_000,
  ) {}

  /** The kept file at a context-relative path. */
  get(rel: string): KnownFile | undefined {
    return this.files.get(rel);
  }

  remember(rel: string, file: KnownFile): void {
    this.drop(rel);
    if (file.size > this.budget) return;
    this.files.set(rel, file);
    this.held += file.size;
    for (const k of this.files.keys()) {
      if (this.held <= this.budget) break;
      this.drop(k);
    }
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.clear(), this.keepMs).unref();
  }

  get heldBytes(): number {
    return this.held;
  }

  clear(): void {
    this.files.clear();
    this.held = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private drop(rel: string): void {
    const f = this.files.get(rel);
    if (!f) return;
    this.held -= f.size;
    this.files.delete(rel);
  }
}

/**
 * The sha256 of one incoming file's header then content. While its bytes equal a known file's,
 * they are only compared; at the first difference the header, the equal prefix (taken from the
 * known copy) and everything after it are hashed.
 */
export class FileDigest {
  private hash: crypto.Hash | undefined;
  private known: KnownFile | undefined;
  /** Bytes seen so far, and where they end in known.chunks. */
  private pos = 0;
  private chunkIndex = 0;
  private chunkOffset = 0;

  constructor(
    known: KnownFile | undefined,
    private readonly header: Buffer,
    size: number,
  ) {
    if (known && known.size === size && known.header.equals(header)) this.known = known;
    else this.hash = crypto.createHash('sha256').update(header);
  }

  update(chunk: Buffer): void {
    if (!this.hash && this.matches(chunk)) {
      this.pos += chunk.length;
      return;
    }
    this.startHashing().update(chunk);
  }

  digest(): string {
    if (!this.hash && this.pos === this.known!.size) return this.known!.digest;
    return this.startHashing().digest('hex');
  }

  private startHashing(): crypto.Hash {
    if (this.hash) return this.hash;
    const hash = crypto.createHash('sha256').update(this.header);
    let left = this.pos;
    for (const c of this.known!.chunks) {
      if (left === 0) break;
      const n = Math.min(left, c.length);
      hash.update(n === c.length ? c : c.subarray(0, n));
      left -= n;
    }
    this.hash = hash;
    return hash;
  }

  /** Whether `chunk` equals the known bytes at the current position (which moves past it only then). */
  private matches(chunk: Buffer): boolean {
    const chunks = this.known!.chunks;
    let i = this.chunkIndex;
    let o = this.chunkOffset;
    let off = 0;
    while (off < chunk.length) {
      const k = chunks[i];
      if (!k) return false;
      const n = Math.min(chunk.length - off, k.length - o);
      if (chunk.compare(k, o, o + n, off, off + n) !== 0) return false;
      off += n;
      o += n;
      if (o === k.length) {
        i++;
        o = 0;
      }
    }
    this.chunkIndex = i;
    this.chunkOffset = o;
    return true;
  }
}
