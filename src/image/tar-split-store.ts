// Where layers' tar-split records live (content/tar-split/<hex>.gz, one per diffID): a layer
// kept as its files plus this record needs no copy of its tar (archive/tar-split.ts). A record
// is written under a temporary name and renamed into place, so a record that exists is whole;
// like a blob it belongs to whichever layer rows name its diffID, and, until their rows are
// written, to the operations relying on it (LayerStore.holdRecord); the startup sweep removes
// those no row names.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

const TMP = '.tmp-';

export class TarSplitStore {
  readonly dir: string;

  constructor(contentRoot: string) {
    this.dir = path.join(contentRoot, 'tar-split');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  path(diffID: string): string {
    return path.join(this.dir, `${diffID.slice('sha256:'.length)}.gz`);
  }

  has(diffID: string): boolean {
    return fs.existsSync(this.path(diffID));
  }

  read(diffID: string): Buffer {
    return fs.readFileSync(this.path(diffID));
  }

  /**
   * Stores the record of `diffID` unless one is there already (the same diffID gives the same
   * record). `sync`: flushed now, file and directory; otherwise the caller's syncfs of this
   * filesystem flushes it before any row names it. Returns whether a new record was written.
   */
  put(diffID: string, record: Uint8Array, sync: boolean): boolean {
    const final = this.path(diffID);
    if (fs.existsSync(final)) return false;
    const tmp = path.join(this.dir, `${TMP}${randomBytes(6).toString('hex')}`);
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeSync(fd, record);
      if (sync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, final);
    if (sync) {
      const dfd = fs.openSync(this.dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    }
    return true;
  }

  delete(diffID: string): void {
    fs.rmSync(this.path(diffID), { force: true });
  }

  /** Removes records `keep` rejects and half-written ones; returns the diffIDs removed. */
  sweep(keep: (diffID: string) => boolean): string[] {
    const removed: string[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const m = /^([a-f0-9]{64})\.gz$/.exec(name);
      if (m && keep(`sha256:${m[1]}`)) continue;
      fs.rmSync(path.join(this.dir, name), { force: true });
      if (m) removed.push(`sha256:${m[1]}`);
    }
    return removed;
  }
}
