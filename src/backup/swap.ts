// Replaces a volume's content with a fully prepared staging tree. Restores and imports are
// extracted into staging first, so a failure (bad archive, tampered pack, full disk) leaves
// the volume untouched; only complete trees are swapped in. The _data directory itself stays
// (containers may have it bind-mounted); its entries are exchanged by rename on the same
// filesystem, and copied when the volume lives on another one.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
    for (const name of await fs.promises.readdir(dataDir))
      await fs.promises.rm(path.join(dataDir, name), { recursive: true, force: true });
    await run('cp', ['-a', '--reflink=auto', '--sparse=auto', staged + '/.', dataDir + '/']);
  }
  if (root) {
    await fs.promises.chown(dataDir, root.uid, root.gid);
    await fs.promises.chmod(dataDir, root.mode & 0o7777);
  }
  await fs.promises.rm(trash, { recursive: true, force: true });
}
