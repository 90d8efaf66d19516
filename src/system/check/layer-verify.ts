// Full mode's look at one layer: its tar (kept in the content store under its diffID, or rebuilt
// from its tar-split record and its files, which checks those files' content) must still hash to
// the diffID, and every entry of the tar must still be in the layer's snapshot
// directory as the tar says: regular files with the same size and sha256, symlinks with the
// same target, directories present. Entries a later entry of the same tar whites out are not
// expected. Owners, modes, times and xattrs are not compared. Paths are opened through the
// snapshot directory's fd (RESOLVE_BENEATH, no symlinks followed), so a layer's own symlinks
// never lead the check outside it.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import {
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  RESOLVE_BENEATH,
  RESOLVE_NO_SYMLINKS,
  openat2,
  readlinkat,
} from '../../native/syscalls.js';
// The archive room's extractor: tar-stream's own, with its fix for empty PAX and long-name entries.
import { extract } from '../../archive/tarstream.js';

interface Expected {
  type: 'file' | 'symlink' | 'directory';
  size?: number;
  sha256?: string;
  linkname?: string;
}

const clean = (name: string) =>
  path.posix
    .normalize('/' + name)
    .slice(1)
    .replace(/\/$/, '');

/** What is wrong with the layer, or undefined when nothing is. */
export async function verifyLayer(
  tar: string | (() => Readable),
  diffID: string,
  fsDir: string,
): Promise<string | undefined> {
  const whole = createHash('sha256');
  const expected = new Map<string, Expected>();
  const drop = (prefix: string, self: boolean) => {
    for (const k of [...expected.keys()])
      if ((self && k === prefix) || k.startsWith(prefix === '' ? '' : prefix + '/')) expected.delete(k);
  };
  const ex = extract();
  ex.on('entry', (h, stream, next) => {
    const name = clean(h.name);
    const base = path.posix.basename(name);
    const dir = path.posix.dirname(name) === '.' ? '' : path.posix.dirname(name);
    const hash = createHash('sha256');
    let size = 0;
    // A tar that fails midway (a layer rebuilt from damaged files) fails the pipeline, once.
    stream.on('error', () => {});
    stream.on('data', (c: unknown) => {
      hash.update(c as Buffer);
      size += (c as Buffer).length;
    });
    stream.on('end', () => {
      if (base === '.wh..wh..opq') drop(dir, false);
      else if (base.startsWith('.wh.')) drop(path.posix.join(dir, base.slice(4)), true);
      else if (name === '') {
        /* the root itself */
      } else if (h.type === 'file' || h.type === 'contiguous-file')
        expected.set(name, { type: 'file', size, sha256: hash.digest('hex') });
      else if (h.type === 'symlink') expected.set(name, { type: 'symlink', linkname: h.linkname ?? '' });
      else if (h.type === 'directory') expected.set(name, { type: 'directory' });
      else if (h.type === 'link') {
        const target = expected.get(clean(h.linkname ?? ''));
        if (target) expected.set(name, { ...target });
      }
      next();
    });
    stream.resume();
  });
  await pipeline(
    typeof tar === 'string' ? fs.createReadStream(tar, { highWaterMark: 1 << 20 }) : tar(),
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        whole.update(chunk);
        cb(null, chunk);
      },
    }),
    ex as unknown as NodeJS.WritableStream,
  );
  const actual = 'sha256:' + whole.digest('hex');
  if (actual !== diffID) return `its tar hashes to ${actual}, not ${diffID}`;

  const rootFd = fs.openSync(fsDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    for (const [name, want] of expected) {
      const problem = compare(rootFd, name, want);
      if (problem) return `${name}: ${problem}`;
    }
  } finally {
    fs.closeSync(rootFd);
  }
  return undefined;
}

const RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;

function compare(rootFd: number, name: string, want: Expected): string | undefined {
  let fd: number;
  try {
    if (want.type === 'symlink') {
      const dir = path.posix.dirname(name);
      const dfd = dir === '.' ? -1 : openat2(rootFd, dir, O_PATH | O_DIRECTORY, 0, RESOLVE);
      try {
        const target = readlinkat(dfd === -1 ? rootFd : dfd, path.posix.basename(name));
        return target === want.linkname ? undefined : `symlink to ${target}, not ${want.linkname}`;
      } finally {
        if (dfd !== -1) fs.closeSync(dfd);
      }
    }
    fd = openat2(rootFd, name, O_RDONLY | O_NOFOLLOW | (want.type === 'directory' ? O_DIRECTORY : 0), 0, RESOLVE);
  } catch (err) {
    return `missing or of another type (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  try {
    if (want.type === 'directory') return undefined;
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return 'not a regular file';
    if (st.size !== want.size) return `${st.size} bytes, not ${want.size}`;
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; ;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    const got = hash.digest('hex');
    return got === want.sha256
      ? undefined
      : `content differs (sha256 ${got.slice(0, 12)}…, not ${want.sha256!.slice(0, 12)}…)`;
  } finally {
    fs.closeSync(fd);
  }
}
