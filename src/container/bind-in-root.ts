// docker cp puts a container's volumes and binds in place inside its root (which may be
// running) before reading or writing it, as Docker does. Each mount point is created and
// opened through directory fds inside the root (mount/in-root.ts), the source is bound onto that
// open fd with the fd mount API, and the mount is later detached through its own fd: a
// container swapping a component of a destination for a symlink to "/" gets neither a
// directory made on the host nor a mount placed there (CVE-2018-15664, CVE-2021-30465), and
// nothing stays mounted in the root after the copy.
import fs from 'node:fs';
import { Conflict, InvalidParameter } from '../errors.js';
import { bindOnto } from '../mount/fd-mount.js';
import { isDirectoryFd, openInRoot } from '../mount/in-root.js';
import { openVolumeSubpath } from '../mount/staging.js';
import { O_CLOEXEC, O_PATH } from '../native/constants.js';
import * as sys from '../native/syscalls.js';

/**
 * An O_PATH fd of a mount's source on the host: `host` (a volume's directory, or a bind
 * source exactly as the user gave it), or `subpath` beneath a volume. Undefined when it does
 * not exist (nothing to put in place).
 */
export function openMountSource(host: string, subpath?: string): number | undefined {
  try {
    return subpath ? openVolumeSubpath(host, subpath) : sys.openat(sys.AT_FDCWD, host, O_PATH | O_CLOEXEC);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Binds the source open as `sourceFd` onto `destination` inside the root open as `rootFd`,
 * creating the mount point (directory or empty file, like the source) when it is missing.
 * Returns the fd of the new mount, for detachMount.
 */
export function bindInRoot(rootFd: number, sourceFd: number, destination: string, readOnly: boolean): number {
  const isDir = isDirectoryFd(sourceFd);
  const targetFd = openInRoot(rootFd, destination, { mkdirMode: 0o755, create: isDir ? 'directory' : 'file' });
  try {
    if (isDirectoryFd(targetFd) !== isDir) {
      throw new InvalidParameter(
        `cannot mount ${isDir ? 'a directory' : 'a file'} on ${destination}: it is ${isDir ? 'not a directory' : 'a directory'} in the container`,
      );
    }
    try {
      return bindOnto(sourceFd, targetFd, { recursive: true, readOnly });
    } catch (err) {
      // The opened mount point was deleted by the container in between: nothing to mount on.
      if ((err as { code?: string }).code === 'ENOENT')
        throw Object.assign(new Conflict(`mount point ${destination} was removed while being mounted on`), {
          cause: err,
        });
      throw err;
    }
  } finally {
    fs.closeSync(targetFd);
  }
}
