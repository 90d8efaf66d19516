// Filling an empty volume with the image's content at its mount point (Docker's
// copyExistingContents): only when the volume directory is empty, so it happens on first use
// only, and keeping owners, modes, times, xattrs, symlinks and hard links, the root directory's
// own attributes included. GNU cp's archive mode does exactly that (xattrs the target
// filesystem cannot hold are skipped, as continuity's CopyDir does).
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { InvalidParameter, SystemError } from '../errors.js';

/** Copies `fromDir` into `volumeDir` if `volumeDir` is empty; returns whether it copied. */
export async function copyIntoEmptyVolume(fromDir: string, volumeDir: string): Promise<boolean> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(fromDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  // A symlink is not followed: outside the container's root it could point anywhere on the host.
  if (st.isSymbolicLink()) return false;
  if (!st.isDirectory()) throw new InvalidParameter(`cannot mount volume over existing file, file exists ${fromDir}`);
  if (fs.readdirSync(volumeDir).length > 0) return false;
  await new Promise<void>((resolve, reject) => {
    execFile(
      'cp',
      ['-a', '-T', '--', fromDir, volumeDir],
      { env: { ...process.env, LC_ALL: 'C' } },
      (err, _out, stderr) => {
        if (err) reject(new SystemError(`copy image content into volume: ${String(stderr).trim() || err.message}`));
        else resolve();
      },
    );
  });
  return true;
}
