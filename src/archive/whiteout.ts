// Whiteout entries (.wh.NAME, .wh..wh..opq) applied in one of three forms: 'overlay' writes what
// overlayfs reads (0/0 character devices, trusted.overlay.opaque=y), 'naive' deletes for real
// (full-copy snapshots such as vfs), 'aufs' keeps them as the empty files the tar has (Docker's
// AUFSWhiteoutFormat, which fuse-overlayfs reads where the filesystem refuses 0/0 devices or
// trusted xattrs, e.g. on overlayfs). Mirrors moby's ConvertRead and UnpackLayer.
import { closeSync, readdirSync } from 'node:fs';
import { InvalidParameter } from '../errors.js';
import * as sys from '../native/syscalls.js';
import { ConfinedDir, isErrno, removeAllAt } from './confine.js';
import type { TarEntry } from './entry.js';
import { splitName } from './writer.js';

export const WHITEOUT_PREFIX = '.wh.';
export const WHITEOUT_META_PREFIX = '.wh..wh.';
export const WHITEOUT_OPAQUE = '.wh..wh..opq';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

export type WhiteoutFormat = 'overlay' | 'naive' | 'aufs';

export class WhiteoutApplier {
  /** naive only: names written by this layer, which an opaque whiteout must keep. */
  readonly unpacked = new Set<string>();

  constructor(
    private readonly root: ConfinedDir,
    readonly format: WhiteoutFormat,
  ) {}

  /** Applies `e` if it is a whiteout (or AUFS metadata to skip); false for an ordinary entry. */
  apply(e: TarEntry): boolean {
    const [parent, base] = splitName(e.name);
    if (e.name.startsWith(WHITEOUT_META_PREFIX) && e.name !== WHITEOUT_OPAQUE) return true; // AUFS .wh..wh.plnk/aufs/orph
    if (!base.startsWith(WHITEOUT_PREFIX)) {
      if (this.format === 'naive') this.unpacked.add(e.name);
      return false;
    }
    if (base === '.wh.' || base === '.wh..' || base === '.wh...') {
      throw new InvalidParameter(`invalid whiteout entry ${JSON.stringify(e.rawName)}`);
    }
    // Written as an ordinary (empty) entry, confined like any other.
    if (this.format === 'aufs') return false;
    if (base === WHITEOUT_OPAQUE) {
      if (this.format === 'overlay') sys.fsetxattr(this.root.dir(parent, true), OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
      else this.removeNotUnpacked(parent);
      return true;
    }
    const victim = base.slice(WHITEOUT_PREFIX.length);
    const pfd = this.root.dir(parent, true);
    if (this.format === 'naive') {
      this.root.removeAll(pfd, victim);
      return true;
    }
    try {
      sys.mknodat(pfd, victim, sys.S_IFCHR, 0, 0);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      this.root.removeAll(pfd, victim);
      sys.mknodat(this.root.dir(parent, true), victim, sys.S_IFCHR, 0, 0);
    }
    if (e.uid !== 0 || e.gid !== 0)
      sys.fchownat(this.root.dir(parent, true), victim, e.uid, e.gid, sys.AT_SYMLINK_NOFOLLOW);
    return true;
  }

  /** naive opaque whiteout: every existing child of `dir` not written by this layer goes. */
  private removeNotUnpacked(dir: string): void {
    const fd = sys.openat(this.root.dir(dir, true), '.', sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC);
    this.root.invalidate();
    try {
      this.sweep(fd, dir);
    } finally {
      closeSync(fd);
    }
  }

  private sweep(fd: number, dir: string): void {
    for (const child of readdirSync(`/proc/self/fd/${fd}`)) {
      const rel = dir === '' ? child : `${dir}/${child}`;
      if (!this.unpacked.has(rel)) {
        removeAllAt(fd, child);
        continue;
      }
      if ((sys.statx(fd, child).mode & sys.S_IFMT) !== sys.S_IFDIR) continue;
      const cfd = sys.openat(fd, child, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_NOFOLLOW | sys.O_CLOEXEC);
      try {
        this.sweep(cfd, rel);
      } finally {
        closeSync(cfd);
      }
    }
  }
}
