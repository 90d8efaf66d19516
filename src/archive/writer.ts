// Strata's own root-confined tar writer: creates one entry at a time inside a ConfinedDir with
// *at syscalls on a parent descriptor, so no name, symlink or hardlink in the tar can reach
// outside it. File data is written synchronously chunk by chunk as tar-stream hands it over:
// writes to the page cache are memcpy-fast, the stream pauses while they run (natural
// backpressure, so memory stays flat), and decompression keeps running on the thread pool.
import { closeSync, fchmodSync, fchownSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../errors.js';
import * as sys from '../native/syscalls.js';
import { ConfinedDir, confinementError, isErrno } from './confine.js';
import type { TarEntry } from './entry.js';

export interface WriterOptions {
  /** Owner forced onto every entry instead of the tar's (docker cp without -a). */
  chown?: { uid: number; gid: number };
  /** docker cp: refuse to replace a directory by a non-directory and vice versa. */
  noOverwriteDirNonDir?: boolean;
}

const FILE_FLAGS = sys.O_WRONLY | sys.O_CREAT | sys.O_EXCL | sys.O_NOFOLLOW | sys.O_CLOEXEC;

export function splitName(name: string): [string, string] {
  const i = name.lastIndexOf('/');
  return i < 0 ? ['', name] : [name.slice(0, i), name.slice(i + 1)];
}

export class EntryWriter {
  /** Directories whose times are set last: creating entries inside them would change them. */
  private readonly dirTimes: Array<{ name: string; atime: sys.Timespec; mtime: sys.Timespec }> = [];
  /** Sum of regular file sizes written. */
  size = 0;

  constructor(readonly root: ConfinedDir, private readonly opts: WriterOptions = {}) {}

  async write(e: TarEntry, data: Readable): Promise<void> {
    if (e.type === 'file') return this.writeFile(e, data);
    await drain(data);
    const [parent, base] = splitName(e.name);
    switch (e.type) {
      case 'directory':
        return this.writeDir(e, parent, base);
      case 'symlink':
        this.create(e, parent, base, (pfd) => sys.symlinkat(e.linkname, pfd, base));
        return this.setMeta(e, this.root.dir(parent, true), base, true);
      case 'link':
        return this.writeHardlink(e, parent, base);
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = e.type === 'fifo' ? sys.S_IFIFO : e.type === 'block-device' ? sys.S_IFBLK : sys.S_IFCHR;
        this.create(e, parent, base, (pfd) => sys.mknodat(pfd, base, kind | (e.mode & 0o777), e.devmajor, e.devminor));
        return this.setMeta(e, this.root.dir(parent, true), base, false);
      }
    }
  }

  /**
   * Creates a non-directory with `make`; an existing entry in the way is removed first (an
   * existing directory only when the caller allows replacing directories).
   */
  private create<T>(e: TarEntry, parent: string, base: string, make: (pfd: number) => T): T {
    const pfd = this.root.dir(parent, true);
    try {
      return make(pfd);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw confinementError(err, e.name);
    }
    const st = sys.statx(pfd, base);
    if ((st.mode & sys.S_IFMT) === sys.S_IFDIR && this.opts.noOverwriteDirNonDir) {
      throw new InvalidParameter(`cannot overwrite directory ${JSON.stringify('/' + e.name)} with non-directory ${JSON.stringify(e.rawName)}`);
    }
    this.root.removeAll(pfd, base);
    return make(this.root.dir(parent, true));
  }

  private writeDir(e: TarEntry, parent: string, base: string): void {
    let pfd = this.root.dir(parent, true);
    try {
      sys.mkdirat(pfd, base, 0o700);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw confinementError(err, e.name);
      const st = sys.statx(pfd, base);
      if ((st.mode & sys.S_IFMT) !== sys.S_IFDIR) {
        if (this.opts.noOverwriteDirNonDir) {
          throw new InvalidParameter(`cannot overwrite non-directory ${JSON.stringify('/' + e.name)} with directory ${JSON.stringify(e.rawName)}`);
        }
        this.root.removeAll(pfd, base);
        pfd = this.root.dir(parent, true);
        sys.mkdirat(pfd, base, 0o700);
      }
    }
    this.setOwnerModeXattrs(e, pfd, base, false);
    this.dirTimes.push({ name: e.name, atime: e.atime, mtime: e.mtime });
  }

  private writeHardlink(e: TarEntry, parent: string, base: string): void {
    const raw = e.linkname.replace(/^\/+/, '');
    const target = posix.normalize(raw).replace(/\/+$/, '');
    if (raw === '' || target === '.' || target === '..' || target.startsWith('../')) {
      throw new InvalidParameter(`invalid hardlink ${JSON.stringify(e.rawName)} -> ${JSON.stringify(e.linkname)}: target outside the target directory`);
    }
    const [tparent, tbase] = splitName(target);
    // The target's directory is resolved with no symlink at all: a hardlink names an entry
    // already extracted, never something reached through a link.
    let tpfd: number;
    try {
      tpfd = tparent === '' ? -1 : this.root.openNoSymlinks(tparent, sys.O_PATH | sys.O_DIRECTORY);
    } catch (err) {
      throw new InvalidParameter(`invalid hardlink ${JSON.stringify(e.rawName)} -> ${JSON.stringify(e.linkname)}: ${(err as Error).message}`);
    }
    try {
      const tdir = tpfd === -1 ? this.root.fd : tpfd;
      this.create(e, parent, base, (pfd) => {
        try {
          sys.linkat(tdir, tbase, pfd, base, 0);
        } catch (err) {
          if (isErrno(err, 'ENOENT', 'EPERM')) {
            throw new InvalidParameter(`invalid hardlink ${JSON.stringify(e.rawName)} -> ${JSON.stringify(e.linkname)}: ${(err as Error).message}`);
          }
          throw err;
        }
      });
    } finally {
      if (tpfd !== -1) closeSync(tpfd);
    }
    // The header's metadata goes onto the shared inode as Docker does, but only where it differs:
    // a needless chown would strip setuid bits and security.capability from the first name.
    const pfd = this.root.dir(parent, true);
    const st = sys.statx(pfd, base);
    const isLink = (st.mode & sys.S_IFMT) === sys.S_IFLNK;
    const uid = this.opts.chown?.uid ?? e.uid;
    const gid = this.opts.chown?.gid ?? e.gid;
    if (st.uid !== uid || st.gid !== gid) sys.fchownat(pfd, base, uid, gid, sys.AT_SYMLINK_NOFOLLOW);
    for (const [k, v] of e.xattrs) {
      if (keepXattr(k)) xattrTolerant(() => sys.lsetxattr(`/proc/self/fd/${pfd}/${base}`, k, v));
    }
    if (isLink) return;
    if ((st.mode & 0o7777) !== e.mode || st.uid !== uid || st.gid !== gid) sys.fchmodat(pfd, base, e.mode);
    sys.utimensat(pfd, base, e.atime, e.mtime, sys.AT_SYMLINK_NOFOLLOW);
  }

  private writeFile(e: TarEntry, data: Readable): Promise<void> {
    const [parent, base] = splitName(e.name);
    let fd: number;
    try {
      fd = this.create(e, parent, base, (pfd) => sys.openat(pfd, base, FILE_FLAGS, 0o600));
    } catch (err) {
      return drain(data).then(() => Promise.reject(err));
    }
    return new Promise<void>((resolve, reject) => {
      let failed: unknown = null;
      data.on('data', (chunk: Buffer) => {
        if (failed) return;
        try {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        } catch (err) {
          failed = err;
        }
      });
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        try {
          if (failed) throw failed;
          // Data first, then owner, xattrs, mode, times: writing would drop
          // security.capability, and chown would drop setuid bits and capabilities.
          fchownSync(fd, this.opts.chown?.uid ?? e.uid, this.opts.chown?.gid ?? e.gid);
          for (const [k, v] of e.xattrs) if (keepXattr(k)) xattrTolerant(() => sys.fsetxattr(fd, k, v));
          fchmodSync(fd, e.mode);
          sys.futimens(fd, e.atime, e.mtime);
          this.size += e.size;
          resolve();
        } catch (err) {
          reject(err);
        } finally {
          closeSync(fd);
        }
      };
      data.once('end', settle);
      data.once('error', (err) => {
        failed ??= err;
        settle();
      });
    });
  }

  private setOwnerModeXattrs(e: TarEntry, pfd: number, base: string, isSymlink: boolean): void {
    sys.fchownat(pfd, base, this.opts.chown?.uid ?? e.uid, this.opts.chown?.gid ?? e.gid, sys.AT_SYMLINK_NOFOLLOW);
    for (const [k, v] of e.xattrs) {
      if (keepXattr(k)) xattrTolerant(() => sys.lsetxattr(`/proc/self/fd/${pfd}/${base}`, k, v));
    }
    if (!isSymlink) sys.fchmodat(pfd, base, e.mode);
  }

  private setMeta(e: TarEntry, pfd: number, base: string, isSymlink: boolean): void {
    this.setOwnerModeXattrs(e, pfd, base, isSymlink);
    sys.utimensat(pfd, base, e.atime, e.mtime, sys.AT_SYMLINK_NOFOLLOW);
  }

  /** Sets the deferred directory times; entries removed meanwhile are skipped. */
  finish(): void {
    for (const d of this.dirTimes) {
      const [parent, base] = splitName(d.name);
      try {
        sys.utimensat(this.root.dir(parent, false), base, d.atime, d.mtime, sys.AT_SYMLINK_NOFOLLOW);
      } catch (err) {
        if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      }
    }
    this.dirTimes.length = 0;
  }
}

/**
 * A tar never sets overlayfs's own attributes: redirect, origin or metacopy planted by an image
 * would change what the kernel shows. Opaque directories come only from `.wh..wh..opq`.
 */
function keepXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.');
}

/** Like Docker, a filesystem that refuses an xattr (EPERM, e.g. user.* on a symlink) is not fatal. */
function xattrTolerant(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!isErrno(err, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP')) throw err;
  }
}

export function drain(data: Readable): Promise<void> {
  return new Promise((resolve) => {
    data.once('end', () => resolve());
    data.once('error', () => resolve());
    data.resume();
  });
}
