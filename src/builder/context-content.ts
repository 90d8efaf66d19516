// What the build context's files hold, kept apart from the files themselves: every entry's
// tarsum (taken while unpacking, for the COPY cache key; see tarsum.ts), and the content of larger
// files held in memory until a COPY that misses the cache needs it. Until then such a file is
// a placeholder of the right size, mode and time on disk, so lookups, walks and stats see the
// real tree; a rebuild that hits the cache never writes the context's bulk to disk. Held files
// are handed to RecentContent when the build ends, so the next build of the same files can
// prove them unchanged by comparison instead of hashing them again.
import fs from 'node:fs';
import { FileDigest, type KnownFile, type RecentContent } from './recent-content.js';

interface Held extends KnownFile {
  /** Path relative to the context, the key RecentContent keeps it under. */
  rel: string;
  mtime?: Date;
  /** Still only in memory: the placeholder on disk has not been filled. */
  pending: boolean;
}

export class ContextContent {
  /** Each entry's tarsum (hex), by path relative to the context. */
  readonly sums = new Map<string, string>();
  /** Held files by host path. */
  private readonly held = new Map<string, Held>();
  private heldBytes = 0;

  constructor(
    private readonly recent?: RecentContent,
    /** Most bytes held in memory for one build; larger contexts are written as they come. */
    private readonly budget = 256 << 20,
    /** Small files are written at once: the Dockerfile and .dockerignore are read right away. */
    private readonly deferAbove = 64 << 10,
  ) {}

  canDefer(size: number): boolean {
    return size > this.deferAbove && this.heldBytes + size <= this.budget;
  }

  /** The sum of the file arriving at context-relative `rel`; a file to be held may reuse a recent equal file's. */
  digester(rel: string, header: Buffer, size: number, held: boolean): FileDigest {
    return new FileDigest(held ? this.recent?.get(rel) : undefined, header, size);
  }

  defer(host: string, rel: string, header: Buffer, chunks: Buffer[], size: number, digest: string, mtime?: Date): void {
    this.forget(host);
    this.held.set(host, { rel, header, chunks, size, digest, mtime, pending: true });
    this.heldBytes += size;
  }

  /** The file at `host` was replaced by a later tar entry. */
  forget(host: string): void {
    const h = this.held.get(host);
    if (!h) return;
    this.heldBytes -= h.size;
    this.held.delete(host);
  }

  /** Writes the held content of `host` (a file) or of every file under it (a directory). */
  fill(host: string): void {
    if (this.held.size === 0) return;
    const prefix = host.endsWith('/') ? host : host + '/';
    for (const [p, h] of this.held) {
      if (!h.pending || (p !== host && !p.startsWith(prefix))) continue;
      const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
      try {
        let pos = 0;
        for (const c of h.chunks) pos += fs.writeSync(fd, c, 0, c.length, pos);
        if (h.mtime) fs.futimesSync(fd, h.mtime, h.mtime);
      } finally {
        fs.closeSync(fd);
      }
      h.pending = false;
    }
  }

  /** The build is over: its held files become the recent ones. */
  release(): void {
    for (const h of this.held.values())
      this.recent?.remember(h.rel, { header: h.header, size: h.size, chunks: h.chunks, digest: h.digest });
    this.held.clear();
    this.heldBytes = 0;
  }
}
