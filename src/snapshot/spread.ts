// Layer and volume directories each start in a little-used block group of an ext filesystem
// (see native/topdir.ts for why). Only a hint to the allocator: where it cannot be given (another
// filesystem, no CAP_LINUX_IMMUTABLE), the store works the same, only slower after mass removals.
import { markTopDir } from '../native/topdir.js';
import type { Logger } from '../util/log.js';

export function spreadNewDirectories(dir: string, log: Logger): void {
  try {
    markTopDir(dir);
  } catch (err) {
    log.warn(`${dir}: new directories stay in their parent's block group: ${(err as Error).message}`);
  }
}
