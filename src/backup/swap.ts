// Replaces a volume's content with a fully prepared staging tree. Restores and imports are
// extracted into staging first, so a failure (bad archive, tampered pack, full disk) leaves
// the volume untouched; only complete trees are swapped in. The _data directory itself stays
// (containers may have it bind-mounted); its entries are exchanged by rename on the same
// filesystem, and copied when the volume lives on another one. A forced restore runs while
// containers use the volume, and they can swap any directory in it (or in the old entries,
// which a process of theirs may still be in) for a symlink at any moment: so nothing here
// walks a tree by path. Removals go through directory fds, never following a link, and the
// copy is an extraction confined to the volume, as docker cp writes into a running container.
import fs from 'node:fs';
import path from 'node:path';
import { extractTo, packTree } from '../archive/index.js';
import { removeAllAt } from '../archive/confine.js';
import * as sys from '../native/syscalls.js';
import { digHolesBeneath } from './sparse.js';

/** The volume root's own owner and mode (the root of a tar or a backup). */
export interface RootAttributes {
  uid: number;
  gid: number;
  mode: number;
}

/** Moves every entry of `staged` into `dataDir` after moving the old ones to `trash` (both beside `staged`). */
export async function replaceContent(
  dataDir: string,
  staged: string,
  trash: string,
  root?: RootAttributes,
): Promise<void> {
  await fs.promises.mkdir(trash, { recursive: true });
  const old = await fs.promises.readdir(dataDir);
  const fresh = await fs.promises.readdir(staged);
  try {
    for (const name of old) await fs.promises.rename(path.join(dataDir, name), path.join(trash, name));
    for (const name of fresh) await fs.promises.rename(path.join(staged, name), path.join(dataDir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    // Another filesystem (a volume with a device option): copy, keeping owners, modes, xattrs, links.
    removeEntries(dataDir);
    await extractTo(dataDir, '/', packTree(staged));
    digHolesBeneath(dataDir);
  }
  if (root) {
    await fs.promises.chown(dataDir, root.uid, root.gid);
    await fs.promises.chmod(dataDir, root.mode & 0o7777);
  }
  removeAllUnder(path.dirname(trash), path.basename(trash));
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
