// Layer and volume directories each start in a little-used block group of an ext filesystem
// (see native/topdir.ts for why). Only a hint to the allocator: where it cannot be given (another
// filesystem, no CAP_LINUX_IMMUTABLE), the store works the same, only slower after mass removals.
import { markTopDir } from '../native/topdir.js';
import type { Logger } from '../util/log.js';

/** Whether the hint is given (ext2/3/4 only). */
export function spreadNewDirectories(dir: string, log: Logger): boolean {
  try {
    return markTopDir(dir);
  } catch (err) {
    log.warn(`${dir}: new directories stay in their parent's block group: ${(err as Error).message}`);
    return false;
  }
}

/**
 * ext4's default geometry: 8192 inodes per block group, 16 groups per flex group, which is the
 * unit the allocator spreads top directories over. userspace cannot read the real figures
 * without the block device; on another geometry a wrong guess only costs or saves a retry.
 */
const FLEX_GROUP_INODES = 8192 * 16;
/**
 * How long ext4 treats a freed inode as recent: 60 s, or 360 s while its inode-table block is
 * dirty, and each inode made in that block dirties it again, so refilling a group can meet the
 * longer window (+ 5 s of slack).
 */
const RECENT_MS = 365_000;

/**
 * The flex groups this store freed a snapshot directory in during the last six minutes. The
 * allocator counts a group emptied by a removal as unused, so the next layer often lands right
 * back in it, among the inodes it must not reuse yet (40k files took 18 s instead of 1 s).
 */
export class RecentlyFreed {
  private readonly freedAt = new Map<number, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The directory whose inode is `ino` is about to be removed with everything in it. */
  note(ino: number): void {
    this.freedAt.set(flexGroupOf(ino), this.now());
  }

  /** Whether a directory made as `ino` sits where this store removed one too recently. */
  isRecent(ino: number): boolean {
    const t = this.now();
    for (const [g, at] of this.freedAt) if (t - at > RECENT_MS) this.freedAt.delete(g);
    return this.freedAt.has(flexGroupOf(ino));
  }
}

const flexGroupOf = (ino: number): number => Math.floor((ino - 1) / FLEX_GROUP_INODES);
