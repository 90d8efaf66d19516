// A btrfs filesystem for a test: a sparse image file made with mkfs.btrfs and loop-mounted
// under `dir`; close() unmounts it (the loop device is released with it, mount sets autoclear)
// and deletes the image. Needs root and btrfs-progs.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

export interface LoopBtrfs {
  /** Where the filesystem is mounted. */
  mnt: string;
  close(): void;
}

export function makeLoopBtrfs(dir: string, size = '2G'): LoopBtrfs {
  const image = path.join(dir, 'btrfs.img');
  const mnt = path.join(dir, 'btrfs');
  mkdirSync(mnt);
  execFileSync('truncate', ['-s', size, image]);
  execFileSync('mkfs.btrfs', ['-q', image], { stdio: 'ignore' });
  execFileSync('mount', ['-o', 'loop', image, mnt]);
  return {
    mnt,
    close() {
      execFileSync('umount', [mnt]);
      rmSync(image, { force: true });
    },
  };
}
