// Makes durable exactly what one extraction wrote: each regular file is fsynced on the thread
// pool as soon as it is written (a bounded number at a time, so descriptors and memory stay
// flat), and at the end every directory that gained or lost an entry. A syncfs would do it in
// one call but also flushes whatever else is dirty on the filesystem: for a commit that is
// the container's own writable layer it was read from, and everything other writers left.
import { close, fsync, closeSync, fsyncSync } from 'node:fs';
import * as sys from '../native/syscalls.js';
import type { ConfinedDir } from './confine.js';
import { isErrno } from './confine.js';

/** fsyncs in flight at once: enough for the filesystem to group them into few journal commits. */
const IN_FLIGHT = 16;

export class LayerFlusher {
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private failure: unknown = null;
  /** Directories (relative to the root, '' for itself) whose entries changed. */
  private readonly dirs = new Set<string>();

  /** Takes over `fd` (a file just written): fsyncs and closes it. Resolves once a slot is free. */
  async file(fd: number): Promise<void> {
    if (this.failure) {
      closeSync(fd);
      throw this.failure;
    }
    this.inFlight++;
    fsync(fd, (err) => {
      if (err) this.failure ??= err;
      close(fd, () => {
        this.inFlight--;
        this.slotWaiters.shift()?.();
        if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    });
    if (this.inFlight >= IN_FLIGHT) await new Promise<void>((r) => this.slotWaiters.push(r));
  }

  /** `rel` gained or lost an entry; false when it was already known (and so were its parents). */
  directory(rel: string): boolean {
    if (this.dirs.has(rel)) return false;
    this.dirs.add(rel);
    return true;
  }

  /** Waits for every file, then fsyncs the directories; throws the first failure. */
  async finish(root: ConfinedDir): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    if (this.failure) throw this.failure;
    for (const rel of this.dirs) {
      let fd: number;
      try {
        fd = root.openNoSymlinks(rel === '' ? '.' : rel, sys.O_RDONLY | sys.O_DIRECTORY);
      } catch (err) {
        // Removed after it changed (a later whiteout or replacement): its parent is in the set.
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) continue;
        throw err;
      }
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }
}
