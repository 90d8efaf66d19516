// `docker cp -a` (copyUIDGID): what is copied in belongs to the container's user. The user is
// looked up in the container's own /etc/passwd and /etc/group, opened inside its root (a
// symlinked /etc/passwd cannot make us read the host's), and the tar's owners are rewritten in
// the stream, before extraction.
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { InvalidParameter } from '../errors.js';
import * as sys from '../native/syscalls.js';
import { extract, pack } from '../archive/tarstream.js';

export interface UserIds {
  uid: number;
  gid: number;
}

/** Reads a file inside `root` as if `root` were `/`; undefined if it is missing. */
function readInRoot(root: string, file: string): string | undefined {
  let rootFd = -1;
  let fd = -1;
  try {
    rootFd = sys.openat2(sys.AT_FDCWD, root, sys.O_RDONLY | sys.O_DIRECTORY | sys.O_CLOEXEC, 0, 0);
    fd = sys.openat2(rootFd, file, sys.O_RDONLY | sys.O_CLOEXEC, 0, sys.RESOLVE_IN_ROOT | sys.RESOLVE_NO_MAGICLINKS);
    return fs.readFileSync(fd, 'utf8');
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    if (rootFd >= 0) fs.closeSync(rootFd);
  }
}

/** Rows of a passwd/group file as fields. */
function rows(text: string | undefined): string[][] {
  return (text ?? '')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

const isNumeric = (s: string) => /^\d+$/.test(s);

/** Config.User ("name", "uid", "name:group", "uid:gid") → numeric ids from the container's files. */
export function containerUserIds(rootfs: string, user: string): UserIds {
  if (user === '') return { uid: 0, gid: 0 };
  const [u = '', g] = user.split(':', 2);
  const passwd = rows(readInRoot(rootfs, 'etc/passwd'));
  const entry = passwd.find((r) => r[0] === u || (isNumeric(u) && r[2] === u));
  let uid: number;
  let gid: number;
  if (entry) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  } else if (isNumeric(u)) {
    uid = Number(u);
    gid = uid;
  } else {
    throw new InvalidParameter(`unable to find user ${u}: no matching entries in passwd file`);
  }
  if (g !== undefined && g !== '') {
    const group = rows(readInRoot(rootfs, 'etc/group')).find((r) => r[0] === g || (isNumeric(g) && r[2] === g));
    if (group) gid = Number(group[2]);
    else if (isNumeric(g)) gid = Number(g);
    else throw new InvalidParameter(`unable to find group ${g}: no matching entries in group file`);
  }
  return { uid, gid };
}

/** The same tar with every entry owned by `ids`. */
export function chownTarEntries(input: Readable, ids: UserIds): Readable {
  const ex = extract();
  const out = pack();
  const result = new PassThrough();
  ex.on('entry', (header, stream, next) => {
    const h = { ...header, uid: ids.uid, gid: ids.gid, uname: '', gname: '' };
    const done = (err?: Error | null) => (err ? ex.destroy(err) : next());
    if (h.type === 'file' || h.type === 'contiguous-file') {
      stream.pipe(out.entry(h, done));
    } else {
      stream.resume();
      out.entry(h, done);
    }
  });
  ex.on('finish', () => out.finalize());
  ex.on('error', (err) => result.destroy(err));
  input.on('error', (err) => ex.destroy(err));
  out.on('error', (err) => result.destroy(err));
  input.pipe(ex);
  out.pipe(result);
  return result;
}
