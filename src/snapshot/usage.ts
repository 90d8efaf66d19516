// Disk usage of one snapshot directory, counted the way Docker's directory.Size does for
// `docker system df` and `docker ps -s`: the apparent size (st_size) of every entry that is not a
// directory, each hard-linked inode once. That is `du -sb --apparent-size` minus directories,
// not allocated blocks, so a sparse or reflinked file counts at its full length. Inodes are
// every distinct inode in the tree, the directory itself included.
import { lstat, opendir } from 'node:fs/promises';
import path from 'node:path';
import type { SnapshotUsage } from './snapshotter.js';

export async function directoryUsage(dir: string): Promise<SnapshotUsage> {
  const seen = new Set<string>();
  let size = 0;
  const visit = async (p: string): Promise<void> => {
    let st;
    try {
      st = await lstat(p, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed while walking
      throw err;
    }
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    if (!st.isDirectory()) {
      size += Number(st.size);
      return;
    }
    const d = await opendir(p);
    for await (const e of d) await visit(path.join(p, e.name));
  };
  await visit(dir);
  return { size, inodes: seen.size };
}
