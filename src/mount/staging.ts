// Private staging mount points for bind sources the daemon resolves inside a volume (a
// volume-subpath). runc takes bind sources as path strings and resolves them itself, later;
// a path inside a volume is a path a container can swap for a symlink to "/" in between. So the
// subpath is opened here (openat2, beneath the volume, no symlinks), that very directory or
// file is bound onto a mount point under <data-root>/tmp/mounts/<container> (0700: nothing
// in any container can reach it), and runc is given that path. The staging mounts go when the
// container stops or its start fails; a crash leaves them under tmp/, which startup sweeps.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidParameter, NotFound, SystemError } from '../errors.js';
import * as sys from '../native/syscalls.js';
import {
  O_CLOEXEC,
  O_PATH,
  RESOLVE_BENEATH,
  RESOLVE_NO_MAGICLINKS,
  RESOLVE_NO_SYMLINKS,
  UMOUNT_NOFOLLOW,
} from '../native/constants.js';
import { bindOntoTrustedPath } from './fd-mount.js';
import { isDirectoryFd, openTrustedDirectory } from './in-root.js';
import { readMountInfo } from './kernel.js';

const codeOf = (err: unknown) => (err as { code?: string })?.code;
/** Go's words for the errno, as Docker's message carries them. */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ELOOP: 'too many levels of symbolic links',
  ENOTDIR: 'not a directory',
  EINVAL: 'invalid argument',
};
const describe = (err: unknown) => ERRNO_WORDS[codeOf(err) ?? ''] ?? String((err as Error)?.message ?? err);

/** Where every container's staging directory lives. */
export const stagingRootOf = (dataRoot: string): string => path.join(dataRoot, 'tmp', 'mounts');

/** Where a container's staging mount points live. */
export const stagingDirOf = (dataRoot: string, containerId: string): string =>
  path.join(stagingRootOf(dataRoot), containerId);

/**
 * An O_PATH fd of `subpath` inside the volume whose data directory is `volumeRoot`, with
 * Docker's semantics and words: symlinks inside the volume are followed as long as they stay
 * in it ("path concatenation escapes the base directory" otherwise), and the path found is
 * then opened beneath the volume with no symlink allowed at all, so a component swapped for a
 * link since is refused ("cannot access path"), never followed.
 */
export function openVolumeSubpath(volumeRoot: string, subpath: string): number {
  let base: string;
  try {
    base = fs.realpathSync(volumeRoot);
  } catch (err) {
    throw Object.assign(new NotFound(`cannot access path ${volumeRoot}: ${describe(err)}`), { cause: err });
  }
  const combined = path.join(base, subpath);
  let resolved: string;
  try {
    resolved = fs.realpathSync(combined);
  } catch (err) {
    // EINVAL/ENOTDIR: a component was a link when looked at and no longer when read (or the
    // reverse): swapped while being resolved, which Docker reports as not accessible too.
    if (['ENOENT', 'ELOOP', 'EINVAL', 'ENOTDIR'].includes(codeOf(err) ?? '')) {
      throw Object.assign(new NotFound(`cannot access path ${combined}: ${describe(err)}`), { cause: err });
    }
    throw err;
  }
  const rel = path.relative(base, resolved);
  const escapes = () =>
    new InvalidParameter(`path concatenation escapes the base directory, base: ${base}, subpath: ${subpath}`);
  if (rel === '..' || rel.startsWith('../') || path.isAbsolute(rel)) throw escapes();
  const volFd = openTrustedDirectory(base);
  try {
    return sys.openat2(
      volFd,
      rel === '' ? '.' : rel,
      O_PATH | O_CLOEXEC,
      0,
      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    );
  } catch (err) {
    if (codeOf(err) === 'EXDEV') throw escapes();
    if (['ENOENT', 'ELOOP', 'ENOTDIR'].includes(codeOf(err) ?? '')) {
      throw Object.assign(new NotFound(`cannot access path ${combined}: ${describe(err)}`), { cause: err });
    }
    throw err;
  } finally {
    fs.closeSync(volFd);
  }
}

/**
 * Binds `subpath` of the volume at `volumeRoot` onto a fresh staging mount point in
 * `stagingDir` and returns that mount point's path, for runc. `name` is unique per start.
 */
export function stageVolumeSubpath(stagingDir: string, name: string, volumeRoot: string, subpath: string): string {
  const fd = openVolumeSubpath(volumeRoot, subpath);
  try {
    fs.mkdirSync(path.dirname(stagingDir), { recursive: true, mode: 0o700 });
    fs.mkdirSync(stagingDir, { recursive: true, mode: 0o700 });
    const target = path.join(stagingDir, name);
    if (isDirectoryFd(fd)) fs.mkdirSync(target, { mode: 0o700 });
    else fs.closeSync(fs.openSync(target, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, 0o600));
    try {
      // The staging mount is only a handle for runc's own rbind: the fd it was made with is not
      // kept, release finds it by its (daemon-only) path.
      fs.closeSync(bindOntoTrustedPath(fd, target, { recursive: true, readOnly: false }));
    } catch (err) {
      fs.rmSync(target, { force: true, recursive: true });
      throw Object.assign(new SystemError(`failed to mount resolved path: ${(err as Error).message}`), { cause: err });
    }
    return target;
  } finally {
    fs.closeSync(fd);
  }
}

/** Unmounts every mount at or below `dir` (deepest first, detached) and removes `dir`. */
export async function releaseStaging(dir: string): Promise<void> {
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return;
  }
  await detachUnder(real, true);
  fs.rmSync(real, { recursive: true, force: true });
}

/** Staging paths are the daemon's own, so unmounting them by path is safe. */
async function detachUnder(real: string, includeSelf: boolean): Promise<void> {
  const prefix = real + '/';
  const mounts = (await readMountInfo()).filter(
    (m) => m.mountPoint.startsWith(prefix) || (includeSelf && m.mountPoint === real),
  );
  // Deepest first; stacked mounts share a mount point and one detach takes them all.
  for (const m of mounts.sort((a, b) => b.mountPoint.length - a.mountPoint.length)) {
    try {
      sys.umount2(m.mountPoint, sys.MNT_DETACH | UMOUNT_NOFOLLOW);
    } catch (err) {
      if (codeOf(err) !== 'EINVAL' && codeOf(err) !== 'ENOENT') throw err;
    }
  }
}
