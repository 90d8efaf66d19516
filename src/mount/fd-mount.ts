// Bind mounts held by file descriptors: made from an open source onto an open target, and
// unmounted through the fd that names the mount, so neither making nor undoing one looks a
// path up again (a container cannot swap what is mounted, where, or what is unmounted).
import fs from 'node:fs';
import { moveMountOnto, moveMountTo, openTreeClone, setTreeAttributes } from '../native/mount-api.js';
import { MNT_DETACH, O_CLOEXEC, O_DIRECTORY, O_RDONLY, openat, umount2 } from '../native/syscalls.js';

export interface BindOptions {
  /** Also bind what is mounted beneath the source (rbind). */
  recursive: boolean;
  readOnly: boolean;
}

/**
 * Binds the file or directory open as `sourceFd` onto the one open as `targetFd` (both O_PATH
 * fds are enough). The copy is private and, if asked, read-only before it is attached.
 * Returns the fd of the new mount, for detachMount.
 */
export function bindOnto(sourceFd: number, targetFd: number, opts: BindOptions): number {
  const mountFd = openTreeClone(sourceFd, opts.recursive);
  try {
    setTreeAttributes(mountFd, { readOnly: opts.readOnly });
    moveMountOnto(mountFd, targetFd);
    return mountFd;
  } catch (err) {
    fs.closeSync(mountFd);
    throw err;
  }
}

/** bindOnto with a target path that only the daemon can reach (no container can change it). */
export function bindOntoTrustedPath(sourceFd: number, target: string, opts: BindOptions): number {
  const mountFd = openTreeClone(sourceFd, opts.recursive);
  try {
    setTreeAttributes(mountFd, { readOnly: opts.readOnly });
    moveMountTo(mountFd, target);
    return mountFd;
  } catch (err) {
    fs.closeSync(mountFd);
    throw err;
  }
}

/**
 * Unmounts the mount that `mountFd` names (with whatever was mounted on or beneath it since:
 * MNT_DETACH takes the subtree) and closes the fd. Already unmounted (EINVAL) is fine.
 */
export function detachMount(mountFd: number): void {
  try {
    umount2(`/proc/self/fd/${mountFd}`, MNT_DETACH);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EINVAL') throw err;
  } finally {
    fs.closeSync(mountFd);
  }
}

/**
 * The one mount open as `fd` (an O_PATH fd of its root), copied detached and read-only, with
 * nothing that is mounted beneath it, and opened as a directory to read from. Reading through the
 * copy reads the same filesystem as the original: no second instance of it is mounted. The caller
 * closes `dirFd` and then `mountFd`; the copy goes with the last fd that holds it.
 */
export function openDetachedCopy(fd: number): { mountFd: number; dirFd: number } {
  const mountFd = openTreeClone(fd, false);
  try {
    setTreeAttributes(mountFd, { readOnly: true });
    return { mountFd, dirFd: openat(mountFd, '.', O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
  } catch (err) {
    fs.closeSync(mountFd);
    throw err;
  }
}
