// Go's os.FileMode bits, which Docker puts in ContainerPathStat.mode.
import * as sys from '../native/syscalls.js';

export const ModeDir = 2 ** 31;
export const ModeSymlink = 2 ** 27;
export const ModeDevice = 2 ** 26;
export const ModeNamedPipe = 2 ** 25;
export const ModeSocket = 2 ** 24;
export const ModeSetuid = 2 ** 23;
export const ModeSetgid = 2 ** 22;
export const ModeCharDevice = 2 ** 21;
export const ModeSticky = 2 ** 20;

/** Converts a Linux st_mode to Go's os.FileMode (as an unsigned 32-bit number). */
export function goFileMode(mode: number): number {
  let m = mode & 0o777;
  switch (mode & sys.S_IFMT) {
    case sys.S_IFDIR:
      m += ModeDir;
      break;
    case sys.S_IFLNK:
      m += ModeSymlink;
      break;
    case sys.S_IFBLK:
      m += ModeDevice;
      break;
    case sys.S_IFCHR:
      m += ModeDevice + ModeCharDevice;
      break;
    case sys.S_IFIFO:
      m += ModeNamedPipe;
      break;
    case sys.S_IFSOCK:
      m += ModeSocket;
      break;
  }
  if (mode & 0o4000) m += ModeSetuid;
  if (mode & 0o2000) m += ModeSetgid;
  if (mode & 0o1000) m += ModeSticky;
  return m;
}
