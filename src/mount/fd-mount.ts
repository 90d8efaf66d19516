// Bind mounts held by file descriptors: made from an open source onto an open target, and
// unmounted through the fd that names the mount, so neither making nor undoing one looks a
// path up again (a container cannot swap what is mounted, where, or what is unmounted).
import fs from 'node:fs';
import { moveMountOnto, moveMountTo, openTreeClone, setTreeAttributes } from '../native/mount-api.js';
import { MNT_DETACH, umount2 } from '../native/syscalls.js';

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
