// restic 0.14 restores every file densely, so a sparse file (a VM image, a preallocated
// database) would come back taking its full size on disk. Zero runs are punched back into
// holes afterwards; the content is the same byte for byte, only the allocation changes.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Files smaller than this are not worth a second read: a hole is at least a filesystem block. */
const MIN_SIZE = 1 << 20;

async function* largeFiles(dir: string): AsyncGenerator<string> {
  const entries = await fs.promises.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* largeFiles(p);
    else if (e.isFile()) {
      const st = await fs.promises.lstat(p);
      // A file already sparse, or with more than one name (punching is per inode: once is enough).
      if (st.size >= MIN_SIZE && st.blocks * 512 >= st.size && st.nlink === 1) yield p;
    }
  }
}

/** Punches holes into the zero runs of large regular files under `dir`; best effort (a filesystem without hole punching keeps the zeros). */
export async function digHoles(dir: string): Promise<number> {
  let n = 0;
  const queue: Promise<void>[] = [];
  for await (const file of largeFiles(dir)) {
    queue.push(
      run('fallocate', ['--dig-holes', file]).then(
        () => {
          n++;
        },
        () => {},
      ),
    );
    if (queue.length >= 2) await queue.shift();
  }
  await Promise.all(queue);
  return n;
}
