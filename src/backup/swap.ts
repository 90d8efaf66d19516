// Replaces a volume's content with a fully prepared staging tree. Restores and imports are
// extracted into staging first, so a failure (bad archive, tampered pack, full disk) leaves
// the volume untouched; only complete trees are swapped in. The _data directory itself stays
// (containers may have it bind-mounted); its entries are exchanged by rename on the same
// filesystem, and copied when the volume lives on another one. A forced restore runs while
// containers use the volume, and they can swap any directory in it (or in the old entries,
// which a process of theirs may still be in) for a symlink at any moment: so nothing here
// walks a tree by path. Removals go through directory fds, never following a link, and the
// copy is an extraction confined to the volume, as docker cp writes into a running container.
//
// The exchange is many renames: the old entries out to trash, then the staged ones in. A
// journal written beside them before the first names both lists, so that a daemon killed
// half way finishes the swap at its next start (finishSwaps, before tmp/ is emptied) instead
// of leaving a volume with half its old content, or half its new.
import fs from 'node:fs';
import path from 'node:path';
import { extractTo, packTree } from '../archive/index.js';
import { removeAllAt } from '../archive/confine.js';
import * as sys from '../native/syscalls.js';
import { digHolesBeneath } from './sparse.js';
import { crashPoint } from '../util/crash-point.js';
import type { Logger } from '../util/log.js';

/** The volume root's own owner and mode (the root of a tar or a backup). */
export interface RootAttributes {
  uid: number;
  gid: number;
  mode: number;
}

/** What a swap under way needs to be finished: written before its first rename. */
interface SwapJournal {
  dataDir: string;
  staged: string;
  trash: string;
  /** dataDir's entries before the swap, and staged's. */
  old: string[];
  fresh: string[];
  root?: RootAttributes;
}

const JOURNAL = 'swap.json';

/** Moves every entry of `staged` into `dataDir` after moving the old ones to `trash` (both beside `staged`). */
export async function replaceContent(
  dataDir: string,
  staged: string,
  trash: string,
  root?: RootAttributes,
): Promise<void> {
  await fs.promises.mkdir(trash, { recursive: true });
  const journal: SwapJournal = {
    dataDir,
    staged,
    trash,
    old: await fs.promises.readdir(dataDir),
    fresh: await fs.promises.readdir(staged),
    ...(root ? { root } : {}),
  };
  const file = path.join(path.dirname(staged), JOURNAL);
  const fh = await fs.promises.open(file, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(journal));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await finish(journal);
  removeAllUnder(path.dirname(trash), path.basename(trash));
  await fs.promises.rm(file, { force: true });
}

/**
 * Carries a swap to its end from wherever it stopped. The old entries all leave before the
 * first staged one comes in, so while one old entry is not yet in trash no staged entry has
 * moved: the rest of the old ones go, then every staged entry still in staging comes in.
 */
async function finish(j: SwapJournal): Promise<void> {
  try {
    const inTrash = new Set(await fs.promises.readdir(j.trash));
    if (!j.old.every((n) => inTrash.has(n))) {
      for (const name of j.old) {
        if (inTrash.has(name) || !fs.existsSync(path.join(j.dataDir, name))) continue;
        await fs.promises.rename(path.join(j.dataDir, name), path.join(j.trash, name));
        crashPoint('volume-swap-moving-old');
      }
    }
    const left = new Set(await fs.promises.readdir(j.staged));
    for (const name of j.fresh) {
      if (!left.has(name)) continue;
      await fs.promises.rename(path.join(j.staged, name), path.join(j.dataDir, name));
      crashPoint('volume-swap-moving-fresh');
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    // Another filesystem (a volume with a device option): nothing moved; copy, keeping owners,
    // modes, xattrs, links (staged stays whole, so a copy cut short is simply done again).
    removeEntries(j.dataDir);
    await extractTo(j.dataDir, '/', packTree(j.staged));
    digHolesBeneath(j.dataDir);
  }
  if (j.root) {
    await fs.promises.chown(j.dataDir, j.root.uid, j.root.gid);
    await fs.promises.chmod(j.dataDir, j.root.mode & 0o7777);
  }
}

/**
 * Startup, before tmp/ is emptied: finishes every swap a killed daemon left under way in a
 * scratch directory of `tmp` (one with a journal). Returns the volume directories finished.
 */
export async function finishSwaps(tmp: string, log: Logger): Promise<string[]> {
  const finished: string[] = [];
  if (!fs.existsSync(tmp)) return finished;
  for (const entry of fs.readdirSync(tmp, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const file = path.join(tmp, entry.name, JOURNAL);
    if (!fs.existsSync(file)) continue;
    try {
      const j = JSON.parse(fs.readFileSync(file, 'utf8')) as SwapJournal;
      if (!fs.existsSync(j.dataDir)) continue;
      await finish(j);
      finished.push(j.dataDir);
      log.warn(`startup: finished replacing the content of ${j.dataDir} (a restore or import was interrupted)`);
    } catch (err) {
      log.error(`startup: could not finish replacing a volume's content (${file}): ${(err as Error).message}`);
    }
  }
  return finished;
}

const openDirectory = (dir: string): number =>
  sys.openat(sys.AT_FDCWD, dir, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_NOFOLLOW | sys.O_CLOEXEC);

/** Removes every entry of `dir`, each from the directory's fd down. */
function removeEntries(dir: string): void {
  const fd = openDirectory(dir);
  try {
    for (const name of fs.readdirSync(`/proc/self/fd/${fd}`)) removeAllAt(fd, name);
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes `name` of the (daemon's own) directory `parent`, its tree from the directory's fd down. */
function removeAllUnder(parent: string, name: string): void {
  const fd = openDirectory(parent);
  try {
    removeAllAt(fd, name);
  } finally {
    fs.closeSync(fd);
  }
}
