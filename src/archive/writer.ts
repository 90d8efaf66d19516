// Strata's own root-confined tar writer: creates one entry at a time inside a ConfinedDir with
// *at syscalls on a parent descriptor, so no name, symlink or hardlink in the tar can reach
// outside it. File data is written synchronously chunk by chunk as tar-stream hands it over:
// the stream waits while a write runs (natural backpressure, so memory stays flat) and
// decompression and hashing keep running on other threads. Measured on 2 cores, handing the
// writes to the thread pool instead was slower (more context switches, more memory).
import { closeSync, fchmodSync, fchownSync, readFileSync, writeSync } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../errors.js';
import * as sys from '../native/syscalls.js';
import { ConfinedDir, confinementError, isErrno } from './confine.js';
import type { TarEntry } from './entry.js';
import { SparseSink } from './sparse.js';
import type { EntryRules } from './import-rules.js';

export interface WriterOptions {
  /** Owner forced onto every entry instead of the tar's (docker cp without -a). */
  chown?: { uid: number; gid: number };
  /** docker cp: refuse to replace a directory by a non-directory and vice versa. */
  noOverwriteDirNonDir?: boolean;
  /** Stricter rules for an untrusted archive (import-rules.ts); unpack and the writer consult them. */
  rules?: EntryRules;
  /**
   * Start writing each regular file to the disk as soon as it is closed (a layer, flushed before
   * its row is written): the flush at the end then finds its data written or on its way. Never
   * for bytes meant to stay in memory only.
   */
  writeback?: boolean;
}

/** The process umask, read once (process.umask() without an argument is deprecated). */
const UMASK = (() => {
  const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? parseInt(m[1]!, 8) : 0o777;
})();
const EUID = process.geteuid?.() ?? -1;
const EGID = process.getegid?.() ?? -1;

const FILE_FLAGS = sys.O_WRONLY | sys.O_CREAT | sys.O_EXCL | sys.O_NOFOLLOW | sys.O_CLOEXEC;

/** A regular file being written (EntryWriter.openFile). */
export interface FileSink {
  write(chunk: Buffer): void;
  close(): void;
  abort(): void;
}

export function splitName(name: string): [string, string] {
  const i = name.lastIndexOf('/');
  return i < 0 ? ['', name] : [name.slice(0, i), name.slice(i + 1)];
}

export class EntryWriter {
  /** Directories whose times are set last: creating entries inside them would change them. */
  private readonly dirTimes: Array<{ name: string; atime: sys.Timespec; mtime: sys.Timespec }> = [];
  /** Sum of regular file sizes written. */
  size = 0;
  /**
   * What this writer made, counted the way a walk of the target measures it (snapshot/usage.ts):
   * st_size of each new non-directory, and new inodes; undefined once something it did not make
   * (an entry in the way, a whiteout) could make the count miss.
   */
  private tally: { size: number; inodes: number } | undefined = { size: 0, inodes: 0 };

  constructor(
    readonly root: ConfinedDir,
    private readonly opts: WriterOptions = {},
  ) {}

  get rules(): EntryRules | undefined {
    return this.opts.rules;
  }

  /**
   * The usage of the target, if it was empty to start with: what this writer made (plus the
   * missing parents it made, and the target itself), where that count is sure to be the walk's.
   */
  get usage(): { size: number; inodes: number } | undefined {
    if (!this.tally || this.root.removedAny || this.opts.rules) return undefined;
    return { size: this.tally.size, inodes: this.tally.inodes + this.root.dirsMade + 1 };
  }

  /** Something other than this writer changed the target (a whiteout applied): no usage is counted. */
  untallied(): void {
    this.tally = undefined;
  }

  private made(size: number, inodes: number): void {
    if (this.tally) {
      this.tally.size += size;
      this.tally.inodes += inodes;
    }
  }

  async write(e: TarEntry, data: Readable): Promise<void> {
    if (e.type === 'file') return this.writeFile(e, data);
    await drain(data);
    this.writeHeaderOnly(e);
  }

  /** Writes an entry that carries no data (anything but a regular file), synchronously. */
  writeHeaderOnly(e: TarEntry): void {
    const [parent, base] = splitName(e.name);
    switch (e.type) {
      case 'file':
        throw new Error(`writeHeaderOnly: ${e.rawName} is a regular file`);
      case 'directory':
        return this.writeDir(e, parent, base);
      case 'symlink':
        this.create(e, parent, base, (pfd) => sys.symlinkat(e.linkname, pfd, base));
        this.made(Buffer.byteLength(e.linkname), 1); // a symlink's st_size: its target's bytes
        this.opts.rules?.symlinkMade(this.root, e.name);
        return this.setMeta(e, this.root.dir(parent, true), base, true);
      case 'link':
        return this.writeHardlink(e, parent, base);
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = e.type === 'fifo' ? sys.S_IFIFO : e.type === 'block-device' ? sys.S_IFBLK : sys.S_IFCHR;
        this.create(e, parent, base, (pfd) => sys.mknodat(pfd, base, kind | (e.mode & 0o777), e.devmajor, e.devminor));
        this.made(0, 1);
        return this.setMeta(e, this.root.dir(parent, true), base, true);
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
    this.tally = undefined; // an entry was in the way
    const st = sys.statx(pfd, base);
    if ((st.mode & sys.S_IFMT) === sys.S_IFDIR && this.opts.noOverwriteDirNonDir) {
      throw new InvalidParameter(
        `cannot overwrite directory ${JSON.stringify('/' + e.name)} with non-directory ${JSON.stringify(e.rawName)}`,
      );
    }
    this.root.removeAll(pfd, base);
    return make(this.root.dir(parent, true));
  }

  private writeDir(e: TarEntry, parent: string, base: string): void {
    let pfd = this.root.dir(parent, true);
    try {
      sys.mkdirat(pfd, base, 0o700);
      this.made(0, 1);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw confinementError(err, e.name);
      const st = sys.statx(pfd, base);
      if ((st.mode & sys.S_IFMT) !== sys.S_IFDIR) {
        if (this.opts.noOverwriteDirNonDir) {
          throw new InvalidParameter(
            `cannot overwrite non-directory ${JSON.stringify('/' + e.name)} with directory ${JSON.stringify(e.rawName)}`,
          );
        }
        this.root.removeAll(pfd, base);
        this.tally = undefined;
        pfd = this.root.dir(parent, true);
        sys.mkdirat(pfd, base, 0o700);
      }
    }
    this.setMeta(e, pfd, base, false);
    this.root.forgetMode(e.name);
    this.dirTimes.push({ name: e.name, atime: e.atime, mtime: e.mtime });
  }

  private writeHardlink(e: TarEntry, parent: string, base: string): void {
    const raw = e.linkname.replace(/^\/+/, '');
    const target = posix.normalize(raw).replace(/\/+$/, '');
    if (raw === '' || target === '.' || target === '..' || target.startsWith('../')) {
      throw new InvalidParameter(
        `invalid hardlink ${JSON.stringify(e.rawName)} -> ${JSON.stringify(e.linkname)}: target outside the target directory`,
      );
    }
    const [tparent, tbase] = splitName(target);
    // The target's directory is resolved with no symlink at all: a hardlink names an entry
    // already extracted, never something reached through a link.
    let tpfd: number;
    try {
      tpfd = tparent === '' ? -1 : this.root.openNoSymlinks(tparent, sys.O_PATH | sys.O_DIRECTORY);
    } catch (err) {
      throw new InvalidParameter(
        `invalid hardlink ${JSON.stringify(e.rawName)} -> ${JSON.stringify(e.linkname)}: ${(err as Error).message}`,
      );
    }
    try {
      const tdir = tpfd === -1 ? this.root.fd : tpfd;
      this.create(e, parent, base, (pfd) => {
        try {
          sys.linkat(tdir, tbase, pfd, base, 0);
        } catch (err) {
          if (isErrno(err, 'ENOENT', 'EPERM')) {
            throw new InvalidParameter(
              `invalid hardlink ${JSON.stringify(e.rawName)} -> ${JSON.stringify(e.linkname)}: ${(err as Error).message}`,
            );
          }
          throw err;
        }
      });
    } finally {
      if (tpfd !== -1) closeSync(tpfd);
    }
    if (this.opts.rules) {
      // A second name of a symlink is a symlink too, read from another directory.
      const st = sys.statx(this.root.dir(parent, true), base);
      if ((st.mode & sys.S_IFMT) === sys.S_IFLNK) this.opts.rules.symlinkMade(this.root, e.name);
    }
    // The header's metadata goes onto the shared inode as Docker does, where it differs.
    this.setMeta(e, this.root.dir(parent, true), base, true, true);
  }

  private writeFile(e: TarEntry, data: Readable): Promise<void> {
    let file: FileSink;
    try {
      file = this.openFile(e);
    } catch (err) {
      return drain(data).then(() => Promise.reject(err));
    }
    return new Promise<void>((resolve, reject) => {
      let failed: unknown = null;
      data.on('data', (chunk: Buffer) => {
        if (failed) return;
        try {
          file.write(chunk);
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
          file.close();
          resolve();
        } catch (err) {
          file.abort();
          reject(err);
        }
      };
      data.once('end', settle);
      data.once('error', (err) => {
        failed ??= err;
        settle();
      });
    });
  }

  /**
   * Creates the regular file `e` and returns where its data goes, written synchronously chunk
   * by chunk as it arrives; close() (after the last chunk) sets its owner, xattrs, mode and
   * times, abort() only closes it. The caller's chunks are copied into the page cache at once:
   * none is held after write() returns.
   */
  openFile(e: TarEntry): FileSink {
    const [parent, base] = splitName(e.name);
    const fd = this.create(e, parent, base, (pfd) => sys.openat(pfd, base, FILE_FLAGS, e.mode & 0o777));
    // A new file already has the mode it was created with (unless the umask or special bits
    // interfere) and our own ids (unless a setgid parent hands down its group): most files need
    // neither chown nor chmod, two syscalls saved per file.
    const uid = this.opts.chown?.uid ?? e.uid;
    const gid = this.opts.chown?.gid ?? e.gid;
    const needChown = uid !== EUID || gid !== EGID || this.root.isSetgid(parent);
    const needChmod = (e.mode & ~0o777) !== 0 || (e.mode & UMASK) !== 0;
    const sparse = e.sparse ? new SparseSink(fd, e.sparse, e.size, e.rawName) : undefined;
    const writeback = this.opts.writeback ? new Writeback(fd) : undefined;
    let open = true;
    const closeFd = () => {
      if (!open) return;
      open = false;
      closeSync(fd);
    };
    return {
      write: (chunk: Buffer) => {
        if (sparse) sparse.push(chunk);
        else {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
          writeback?.written(chunk.length);
        }
      },
      close: () => {
        try {
          sparse?.end();
          writeback?.closing(e.sparse?.realSize ?? e.size);
          // Data first, then owner, xattrs, mode, times: writing would drop
          // security.capability, and chown would drop setuid bits and capabilities.
          if (needChown) fchownSync(fd, uid, gid);
          for (const [k, v] of e.xattrs) if (keepXattr(k)) xattrTolerant(() => sys.fsetxattr(fd, k, v));
          if (needChmod || needChown) fchmodSync(fd, e.mode);
          sys.futimens(fd, e.atime, e.mtime);
          this.size += e.sparse?.realSize ?? e.size;
          this.made(e.sparse?.realSize ?? e.size, 1);
        } finally {
          closeFd();
        }
      },
      abort: closeFd,
    };
  }

  /**
   * Owner, xattrs, mode and (unless deferred) times of the entry just made as `base` in `pfd`.
   * The inode is pinned with an O_PATH | O_NOFOLLOW descriptor first: if a running container
   * swaps the new name for a symlink meanwhile (docker cp), the change lands on that link
   * itself, never on what it points to. `onlyIfDifferent` (hardlinks) leaves an inode that
   * already has the header's owner and mode untouched: a needless chown would strip its setuid
   * bits and security.capability.
   */
  private setMeta(e: TarEntry, pfd: number, base: string, times: boolean, onlyIfDifferent = false): void {
    const uid = this.opts.chown?.uid ?? e.uid;
    const gid = this.opts.chown?.gid ?? e.gid;
    const fd = sys.openat(pfd, base, sys.O_PATH | sys.O_NOFOLLOW | sys.O_CLOEXEC);
    try {
      const st = sys.statx(fd, '', sys.AT_EMPTY_PATH);
      const sameOwner = onlyIfDifferent && st.uid === uid && st.gid === gid;
      if ((st.mode & sys.S_IFMT) === sys.S_IFLNK) {
        if (!sameOwner) sys.fchownat(pfd, base, uid, gid, sys.AT_SYMLINK_NOFOLLOW);
        for (const [k, v] of e.xattrs) {
          if (keepXattr(k)) xattrTolerant(() => sys.lsetxattr(`/proc/self/fd/${pfd}/${base}`, k, v));
        }
        if (times) sys.utimensat(pfd, base, e.atime, e.mtime, sys.AT_SYMLINK_NOFOLLOW);
        return;
      }
      // The magic link resolves to the pinned inode, not to whatever the name means now.
      const self = `/proc/self/fd/${fd}`;
      if (!sameOwner) sys.fchownat(fd, '', uid, gid, sys.AT_EMPTY_PATH);
      for (const [k, v] of e.xattrs) if (keepXattr(k)) xattrTolerant(() => sys.setxattr(self, k, v));
      if (!sameOwner || (st.mode & 0o7777) !== e.mode) sys.fchmodat(sys.AT_FDCWD, self, e.mode);
      if (times) sys.utimensat(sys.AT_FDCWD, self, e.atime, e.mtime, 0);
    } finally {
      closeSync(fd);
    }
  }

  /** Waits for the last files, then sets the deferred directory times (entries removed meanwhile are skipped). */
  async finish(): Promise<void> {
    for (const d of this.dirTimes) {
      const [parent, base] = splitName(d.name);
      try {
        sys.utimensat(this.root.dir(parent, false), base, d.atime, d.mtime, sys.AT_SYMLINK_NOFOLLOW);
      } catch (err) {
        if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      }
    }
    this.dirTimes.length = 0;
    this.opts.rules?.finish(this.root);
  }
}

/** A file gets its writeback started once it holds this much not yet started... */
const WRITEBACK_STEP = 8 << 20;
/** ...and at its close if it is at least this big; smaller ones are left to the final flush. */
const WRITEBACK_MIN = 256 << 10;

/**
 * Asks the kernel to start writing a file's data while the layer still unpacks, without
 * waiting. The kernel starts background writeback only once a tenth of memory is dirty
 * (gigabytes) or data is 30 s old, so a layer's data would otherwise sit in the page cache
 * until the final flush and be written only after all the unpacking was done.
 * sync_file_range(SYNC_FILE_RANGE_WRITE) rather than fdatasync: it neither waits for the data
 * nor forces a journal commit and a device cache flush per file (the final flush does those
 * once). It does allocate ext4's delayed blocks and submit the pages on the calling thread,
 * though: done for every file, 10k files of 4 KiB made a commit two to three times slower, so
 * small files are left to the final flush, which writes them in bulk. A refusal only loses
 * the head start, so it is ignored.
 */
class Writeback {
  private started = 0;
  private pending = 0;
  constructor(private readonly fd: number) {}

  written(n: number): void {
    this.pending += n;
    if (this.pending >= WRITEBACK_STEP) this.start();
  }

  closing(size: number): void {
    if (size >= WRITEBACK_MIN && (this.pending > 0 || this.started === 0)) this.start(true);
  }

  private start(toEnd = false): void {
    try {
      sys.syncFileRange(this.fd, this.started, toEnd ? 0 : this.pending, sys.SYNC_FILE_RANGE_WRITE);
    } catch {
      // e.g. EINVAL on a filesystem without writeback: the final flush writes it all instead
    }
    this.started += this.pending;
    this.pending = 0;
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
