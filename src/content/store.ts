// The content store, after containerd's local store: blobs are immutable files named by the
// sha256 of their bytes, written through an ingest (temp file → verify → fsync → rename →
// directory fsync), so a blob path exists only once its bytes are complete and durable.
// Which blobs are still wanted is decided by the metadata rows of the services that use
// them; `sweep` removes what none of them names, and every unfinished ingest.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { InvalidParameter, NotFound } from '../errors.js';

const digestPattern = /^sha256:[a-f0-9]{64}$/;

export interface BlobInfo {
  digest: string;
  size: number;
}

/** An open ingest: write bytes, then commit them under their digest or abort. */
export interface ContentWriter {
  readonly path: string;
  write(chunk: Buffer): Promise<void>;
  /** Bytes written so far. */
  readonly size: number;
  /** The digest of what was written so far. */
  digest(): string;
  /** Verifies `expected` (if given), makes the data durable and moves it to its blob path. */
  commit(expected?: string): Promise<BlobInfo>;
  abort(): Promise<void>;
}

/** An ingest filled elsewhere: `digest` is what its writer hashed. */
export interface ExternalWriter {
  readonly path: string;
  commit(digest: string): Promise<void>;
  abort(): Promise<void>;
}

export class ContentStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobsDir = path.join(root, 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'ingest');
    fs.mkdirSync(this.blobsDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  blobPath(digest: string): string {
    if (!digestPattern.test(digest)) throw new InvalidParameter(`invalid digest: ${digest}`);
    return path.join(this.blobsDir, digest.slice('sha256:'.length));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  async info(digest: string): Promise<BlobInfo> {
    try {
      const st = await fsp.stat(this.blobPath(digest));
      return { digest, size: st.size };
    } catch {
      throw new NotFound(`content ${digest}: not found`);
    }
  }

  read(digest: string): Readable {
    const p = this.blobPath(digest);
    if (!fs.existsSync(p)) throw new NotFound(`content ${digest}: not found`);
    return fs.createReadStream(p, { highWaterMark: 1 << 20 });
  }

  async readAll(digest: string): Promise<Buffer> {
    return fsp.readFile(this.blobPath(digest));
  }

  async writer(): Promise<ContentWriter> {
    const dir = await fsp.mkdtemp(path.join(this.ingestDir, `${process.pid}-${randomBytes(4).toString('hex')}-`));
    const file = path.join(dir, 'data');
    const fh = await fsp.open(file, 'wx', 0o600);
    const hash: Hash = createHash('sha256');
    let size = 0;
    let closed = false;
    const store = this;
    const close = async () => {
      if (!closed) {
        closed = true;
        await fh.close();
      }
    };
    return {
      path: file,
      get size() {
        return size;
      },
      async write(chunk: Buffer) {
        hash.update(chunk);
        size += chunk.length;
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      },
      digest: () => 'sha256:' + hash.copy().digest('hex'),
      async commit(expected?: string) {
        const digest = 'sha256:' + hash.digest('hex');
        try {
          if (expected && expected !== digest)
            throw new InvalidParameter(`unexpected digest ${digest}, expected ${expected}`);
          await fh.sync();
          await close();
          const target = store.blobPath(digest);
          if (fs.existsSync(target)) return { digest, size };
          await fsp.chmod(file, 0o400);
          await fsp.rename(file, target);
          await fsyncDir(store.blobsDir);
          return { digest, size };
        } finally {
          await close();
          await fsp.rm(dir, { recursive: true, force: true });
        }
      },
      async abort() {
        await close();
        await fsp.rm(dir, { recursive: true, force: true });
      },
    };
  }

  /**
   * An ingest whose bytes another thread writes and hashes (a layer's unpacking thread, which
   * has the uncompressed bytes in hand anyway): committed under the digest it reports, so the
   * bytes cross no other thread and are not read back to be hashed again.
   */
  async externalWriter(opts: { lazy?: boolean } = {}): Promise<ExternalWriter> {
    // `lazy`: nothing is created; the writer makes the directory and the file only if it needs
    // them (a load's spill, for the few layers that need a staged copy at all).
    const dir = opts.lazy
      ? path.join(this.ingestDir, `${process.pid}-${randomBytes(8).toString('hex')}-spill`)
      : await fsp.mkdtemp(path.join(this.ingestDir, `${process.pid}-${randomBytes(4).toString('hex')}-`));
    const file = path.join(dir, 'data');
    if (!opts.lazy) await (await fsp.open(file, 'wx', 0o600)).close();
    const store = this;
    return {
      path: file,
      async commit(digest: string) {
        try {
          const target = store.blobPath(digest);
          if (fs.existsSync(target)) return;
          const fh = await fsp.open(file, 'r+');
          try {
            await fh.sync();
          } finally {
            await fh.close();
          }
          await fsp.chmod(file, 0o400);
          await fsp.rename(file, target);
          await fsyncDir(store.blobsDir);
        } finally {
          await fsp.rm(dir, { recursive: true, force: true });
        }
      },
      async abort() {
        await fsp.rm(dir, { recursive: true, force: true });
      },
    };
  }

  /** Writes a whole stream as one blob. */
  async ingest(input: Readable, expected?: string): Promise<BlobInfo> {
    const w = await this.writer();
    try {
      for await (const chunk of input) await w.write(chunk as Buffer);
      return await w.commit(expected);
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  async putBuffer(data: Buffer, expected?: string): Promise<BlobInfo> {
    const w = await this.writer();
    try {
      await w.write(data);
      return await w.commit(expected);
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  async delete(digest: string): Promise<void> {
    await fsp.rm(this.blobPath(digest), { force: true });
  }

  async walk(): Promise<string[]> {
    return (await fsp.readdir(this.blobsDir)).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => 'sha256:' + n);
  }

  /**
   * Startup recovery: every ingest is unfinished by definition once the process restarted,
   * and a blob no metadata row names was written by an operation that never committed.
   */
  async sweep(wanted: (digest: string) => boolean): Promise<string[]> {
    for (const e of await fsp.readdir(this.ingestDir))
      await fsp.rm(path.join(this.ingestDir, e), { recursive: true, force: true });
    const removed: string[] = [];
    for (const d of await this.walk()) {
      if (!wanted(d)) {
        await this.delete(d);
        removed.push(d);
      }
    }
    return removed;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
