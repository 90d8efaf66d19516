// What the build context's files hold, kept apart from the files themselves: every regular
// file's sha256 (taken while unpacking, for the COPY cache key), and the content of larger
// files held in memory until a COPY that misses the cache needs it. Until then such a file is
// a placeholder of the right size, mode and time on disk, so lookups, walks and stats see the
// real tree; a rebuild that hits the cache never writes the context's bulk to disk.
import fs from 'node:fs';

interface Deferred {
  chunks: Buffer[];
  size: number;
  mtime?: Date;
}

export class ContextContent {
  /** sha256 (hex) of each regular file's content, by host path. */
  readonly digests = new Map<string, string>();
  private readonly pending = new Map<string, Deferred>();
  private held = 0;

  constructor(
    /** Most bytes held in memory for one build; larger contexts are written as they come. */
    private readonly budget = 256 << 20,
    /** Small files are written at once: the Dockerfile and .dockerignore are read right away. */
    private readonly deferAbove = 64 << 10,
  ) {}

  canDefer(size: number): boolean {
    return size > this.deferAbove && this.held + size <= this.budget;
  }

  defer(host: string, chunks: Buffer[], size: number, mtime?: Date): void {
    this.forget(host);
    this.pending.set(host, { chunks, size, mtime });
    this.held += size;
  }

  /** The file at `host` was replaced by a later tar entry. */
  forget(host: string): void {
    const p = this.pending.get(host);
    if (!p) return;
    this.held -= p.size;
    this.pending.delete(host);
  }

  /** Writes the held content of `host` (a file) or of every file under it (a directory). */
  fill(host: string): void {
    if (this.pending.size === 0) return;
    const prefix = host.endsWith('/') ? host : host + '/';
    for (const [p, d] of [...this.pending]) {
      if (p !== host && !p.startsWith(prefix)) continue;
      const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
      try {
        let pos = 0;
        for (const c of d.chunks) pos += fs.writeSync(fd, c, 0, c.length, pos);
        if (d.mtime) fs.futimesSync(fd, d.mtime, d.mtime);
      } finally {
        fs.closeSync(fd);
      }
      this.forget(p);
    }
  }
}
