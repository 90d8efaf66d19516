// restic 0.14 restores every file densely, so a sparse file (a VM image, a preallocated
// database) would come back taking its full size on disk. Zero runs are punched back into
// holes afterwards; the content is the same byte for byte, only the allocation changes.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as sys from '../native/syscalls.js';

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

/**
 * digHoles for a tree containers may be changing (a volume in use): walked from directory fds
 * without following links, each file pinned by an O_PATH fd and judged by fstat before it is
 * opened for writing (through that very fd, so a name swapped for a device or a link since is
 * never opened), and fallocate handed the open file rather than a path.
 */
export function digHolesBeneath(dir: string): void {
  const fd = sys.openat(sys.AT_FDCWD, dir, DIR_FLAGS);
  try {
    digHolesAt(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const DIR_FLAGS = sys.O_RDONLY | sys.O_DIRECTORY | sys.O_NOFOLLOW | sys.O_CLOEXEC;

function digHolesAt(dirFd: number): void {
  for (const e of fs.readdirSync(`/proc/self/fd/${dirFd}`, { withFileTypes: true })) {
    if (e.isDirectory()) {
      let child: number;
      try {
        child = sys.openat(dirFd, e.name, DIR_FLAGS);
      } catch {
        continue; // gone or swapped since it was listed
      }
      try {
        digHolesAt(child);
      } finally {
        fs.closeSync(child);
      }
    } else if (e.isFile()) {
      let pinned: number;
      try {
        pinned = sys.openat(dirFd, e.name, sys.O_PATH | sys.O_NOFOLLOW | sys.O_CLOEXEC);
      } catch {
        continue;
      }
      try {
        const st = fs.fstatSync(pinned);
        if (!st.isFile() || st.size < MIN_SIZE || st.blocks * 512 < st.size || st.nlink !== 1) continue;
        const file = fs.openSync(`/proc/self/fd/${pinned}`, fs.constants.O_RDWR);
        try {
          spawnSync('fallocate', ['--dig-holes', '/proc/self/fd/3'], { stdio: ['ignore', 'ignore', 'ignore', file] });
        } finally {
          fs.closeSync(file);
        }
      } finally {
        fs.closeSync(pinned);
      }
    }
  }
}
