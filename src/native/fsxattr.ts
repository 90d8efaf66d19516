// FS_IOC_FSGETXATTR: the project ID a directory carries (xfs and ext4 project quotas). Read
// from the directory itself rather than recomputed from its path, so a limit is lifted for the
// project that was set, whatever the directory has been renamed to since.
import { closeSync } from 'node:fs';
import koffi from 'koffi';
import { AT_FDCWD, O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_RDONLY, openat, SyscallError } from './syscalls.js';

const libc = koffi.load('libc.so.6');
const ioctlFn = libc.func('int ioctl(int fd, unsigned long request, ...)');

/** struct fsxattr: xflags, extsize, nextents, projid, cowextsize (u32 each), 8 bytes of padding. */
const FSXATTR_SIZE = 28;
/** _IOR('X', 31, struct fsxattr) on x86_64 and arm64. */
const FS_IOC_FSGETXATTR = ((2 << 30) | (FSXATTR_SIZE << 16) | (0x58 << 8) | 31) >>> 0;
export const FS_XFLAG_PROJINHERIT = 0x200;

export interface FsXattr {
  xflags: number;
  projectId: number;
}

/** The flags and project ID of the directory at `path` (a final symlink is not followed). */
export function getFsXattr(path: string): FsXattr {
  const fd = openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  try {
    return fsXattrOf(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** The flags and project ID of the file open as `fd` (`what` names it in an error). */
export function fsXattrOf(fd: number, what = `fd ${fd}`): FsXattr {
  const b = Buffer.alloc(FSXATTR_SIZE);
  if ((ioctlFn(fd, FS_IOC_FSGETXATTR, 'void *', b) as number) < 0)
    throw new SyscallError('ioctl FS_IOC_FSGETXATTR', koffi.errno(), what);
  return { xflags: b.readUInt32LE(0), projectId: b.readUInt32LE(12) };
}
