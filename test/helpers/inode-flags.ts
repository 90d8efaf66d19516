// Reads a directory's inode flags (FS_IOC_GETFLAGS), for tests of the top-directory flag.
import { closeSync } from 'node:fs';
import { inodeFlagsOf } from '../../src/native/topdir.js';
import * as sys from '../../src/native/syscalls.js';

export function flagsOf(dir: string): number {
  const fd = sys.openat(sys.AT_FDCWD, dir, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
  try {
    return inodeFlagsOf(fd, dir);
  } finally {
    closeSync(fd);
  }
}
