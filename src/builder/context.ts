// The build context: the tar the client uploads (plain or gzip), unpacked into a private
// directory. Entries are written without ever following a symlink that an earlier entry
// created, so a hostile context cannot write outside its directory.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, type TarHeaders } from '../archive/tarstream.js';
import { InvalidParameter } from '../errors.js';
import { secureJoin } from '../runtime/rootfs-path.js';
import type { ContextContent } from './context-content.js';
import { tarsumHeader } from './tarsum.js';

/** Reads the first chunk and puts it back, so the caller can tell gzip from a plain tar. */
function peek(input: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    const onReadable = () => {
      const chunk = input.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      input.unshift(chunk);
      resolve(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    input.on('readable', onReadable);
    input.on('end', onEnd);
    input.on('error', onError);
  });
}

/**
 * The docker CLI sends a context with an out-of-context Dockerfile as a tar that stops right
 * after that file's last byte (no padding, no end-of-archive blocks); Docker reads it anyway.
 * Completing the stream with zero blocks makes it a well-formed tar; extra zero blocks after a
 * proper end are ignored.
 */
function endOfArchive(): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      total += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      const pad = (512 - (total % 512)) % 512;
      cb(null, Buffer.alloc(pad + 1024));
    },
  });
}

/** Where an entry goes: a clean relative path, or undefined for the root itself. */
function entryPath(name: string): string | undefined {
  const clean = path.posix
    .normalize('/' + name)
    .slice(1)
    .replace(/\/$/, '');
  if (clean === '' || clean === '.') return undefined;
  return clean;
}

/** Refuses to write through a symlink anywhere above the entry. */
function checkParents(root: string, rel: string): void {
  const parts = rel.split('/');
  let cur = root;
  for (const p of parts.slice(0, -1)) {
    cur = path.join(cur, p);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch {
      fs.mkdirSync(cur, { mode: 0o755 });
      continue;
    }
    if (!st.isDirectory()) throw new InvalidParameter(`Error processing tar file: ${rel}: a parent is not a directory`);
  }
}

/**
 * Writes one regular file: at once, or (when `content` can hold it) as a placeholder whose bytes
 * stay in memory until a COPY needs them. Either way its tarsum is taken on the way.
 */
function writeFile(
  target: string,
  rel: string,
  header: TarHeaders,
  stream: Readable,
  content: ContextContent | undefined,
  done: (err?: unknown) => void,
): void {
  const mode = (header.mode ?? 0o644) & 0o7777;
  const size = header.size ?? 0;
  const mtime = header.mtime;
  fs.rmSync(target, { force: true, recursive: true });
  const fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
  const defer = content?.canDefer(size) ?? false;
  const sumHeader = content ? tarsumHeader(header) : undefined;
  const digest = content?.digester(rel, sumHeader!, size, defer);
  const chunks: Buffer[] = [];
  const close = () => {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
  };
  stream.on('data', (data: unknown) => {
    const chunk = data as Buffer;
    try {
      digest?.update(chunk);
      // Synchronous writes into the page cache beat a write stream per file.
      if (defer) chunks.push(chunk);
      else fs.writeSync(fd, chunk);
    } catch (err) {
      stream.destroy(err as Error);
    }
  });
  stream.on('error', (err) => {
    close();
    done(err);
  });
  stream.on('end', () => {
    try {
      if (defer) fs.ftruncateSync(fd, size);
      fs.fchmodSync(fd, mode);
      if (mtime) fs.futimesSync(fd, mtime, mtime);
      close();
      if (content) {
        const hex = digest!.digest();
        content.sums.set(rel, hex);
        if (defer) content.defer(target, rel, sumHeader!, chunks, size, hex, mtime);
      }
      done();
    } catch (err) {
      close();
      done(err);
    }
  });
}

/**
 * Unpacks the context tar into `dir` (which exists and is empty). With `content`, records each
 * file's digest and may hold large files' bytes in memory (see ContextContent). A context is
 * owned by root whatever the tar says; an archive that ADD unpacks keeps its owners (`owners`).
 */
export async function extractContext(
  input: Readable,
  dir: string,
  content?: ContextContent,
  owners = false,
): Promise<void> {
  const extract = tarExtract();
  const dirTimes: [string, Date][] = [];
  extract.on('entry', (header, stream, next) => {
    let target = '';
    const done = (err?: unknown) => {
      if (!err && owners && target) {
        try {
          fs.lchownSync(target, header.uid ?? 0, header.gid ?? 0);
        } catch (e) {
          err = e;
        }
      }
      if (err) extract.destroy(err as Error);
      else next();
    };
    try {
      const rel = entryPath(header.name);
      if (!rel) {
        stream.resume();
        stream.on('end', () => done());
        return;
      }
      checkParents(dir, rel);
      target = path.join(dir, rel);
      content?.forget(target);
      const mode = (header.mode ?? 0o644) & 0o7777;
      // Every entry but a regular file is summed by its header alone, as Docker does; a hard
      // link also takes its target's sum, so that a COPY of the link name sees content changes.
      const headerSum = (extra = '') =>
        content?.sums.set(rel, crypto.createHash('sha256').update(tarsumHeader(header)).update(extra).digest('hex'));
      switch (header.type) {
        case 'directory':
          try {
            fs.mkdirSync(target, { mode });
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.lstatSync(target).isDirectory()) throw e;
          }
          fs.chmodSync(target, mode);
          if (header.mtime) dirTimes.push([target, header.mtime]);
          headerSum();
          stream.resume();
          stream.on('end', () => done());
          return;
        case 'symlink':
          fs.rmSync(target, { force: true, recursive: true });
          fs.symlinkSync(header.linkname ?? '', target);
          headerSum();
          stream.resume();
          stream.on('end', () => done());
          return;
        case 'link': {
          const src = entryPath(header.linkname ?? '');
          if (!src) throw new InvalidParameter(`Error processing tar file: invalid hardlink ${header.linkname}`);
          const srcPath = path.join(dir, src);
          content?.fill(srcPath);
          if (!fs.lstatSync(srcPath).isFile())
            throw new InvalidParameter(`Error processing tar file: invalid hardlink ${header.linkname}`);
          fs.rmSync(target, { force: true, recursive: true });
          fs.linkSync(srcPath, target);
          headerSum(content?.sums.get(src) ?? '');
          stream.resume();
          stream.on('end', () => done());
          return;
        }
        case 'file':
        case 'contiguous-file':
          writeFile(target, rel, header, stream as unknown as Readable, content, done);
          return;
        default:
          headerSum();
          stream.resume();
          stream.on('end', () => done());
      }
    } catch (err) {
      stream.resume();
      done(err);
    }
  });
  try {
    const first = await peek(input);
    if (first === null) return;
    const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
    if (gzip) await pipeline(input, zlib.createGunzip(), endOfArchive(), extract);
    else await pipeline(input, endOfArchive(), extract);
  } catch (err) {
    if (err instanceof InvalidParameter) throw err;
    throw new InvalidParameter(`Error processing tar file(${(err as Error).message}): `);
  }
  for (const [d, t] of dirTimes.reverse()) fs.utimesSync(d, t, t);
}

/** The Dockerfile named by the `dockerfile` query parameter (a path inside the context). */
export function readDockerfile(contextDir: string, name: string | null): { text: string; name: string } {
  const candidates = name ? [name] : ['Dockerfile', 'dockerfile'];
  for (const c of candidates) {
    const host = secureJoin(contextDir, c);
    try {
      if (fs.statSync(host).isFile()) return { text: fs.readFileSync(host, 'utf8'), name: c };
    } catch {
      /* try the next */
    }
  }
  throw new InvalidParameter(`Cannot locate specified Dockerfile: ${name ?? 'Dockerfile'}`);
}

/** Docker removes the Dockerfile and .dockerignore from the context when .dockerignore lists them. */
export function readDockerignore(contextDir: string): string[] {
  let text = '';
  try {
    text = fs.readFileSync(path.join(contextDir, '.dockerignore'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}
