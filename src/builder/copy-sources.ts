// COPY/ADD sources: resolving them inside the build context (or another stage's root) the way
// Docker does (symlinks followed within the root, `..` refused, wildcards matched like Go's
// filepath.Match), and the hash that goes into the cache key (`file:<sha256>`, `dir:<sha256>`,
// `multi:<sha256>`): from the context, Docker's own, built from the tarsums of its entries (see
// tarsum.ts); from another root, one of names, modes, sizes, link targets and contents. Never
// modification times, so touching a file keeps the cache.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InvalidParameter, NotFound } from '../errors.js';
import { secureJoin } from '../runtime/rootfs-path.js';

export interface CopySource {
  /** The source as matched, relative to the source root (for messages and the hash). */
  rel: string;
  /** Host path after resolving symlinks inside the root. */
  host: string;
  stat: fs.Stats;
  hash: string;
}

export class BuildStepError extends InvalidParameter {}

const hasWildcard = (s: string) => /[*?[]/.test(s);

/** Go filepath.Match as a RegExp over slash-separated paths. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new InvalidParameter('syntax error in pattern');
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Cleans a source path relative to the root; `..` that climbs out is Docker's "forbidden path". */
function cleanRel(src: string): string {
  const clean = path.posix.normalize(src.startsWith('/') ? src.slice(1) || '.' : src);
  if (clean === '..' || clean.startsWith('../')) {
    throw new BuildStepError(`forbidden path outside the build context: ${src} ()`);
  }
  return clean === '' ? '.' : clean.replace(/\/$/, '');
}

/** Every path under `root` (relative, no leading ./), depth first, sorted like Go's Walk. */
function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  const dir = rel ? path.join(root, rel) : root;
  for (const name of fs.readdirSync(dir).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    out.push(r);
    const st = fs.lstatSync(path.join(root, r));
    if (st.isDirectory()) out.push(...walk(root, r));
  }
  return out;
}

/** The context's tarsums by path relative to its root (taken while it was unpacked). */
export type ContextSums = Map<string, string>;

/**
 * Resolves the sources in `root`. With `sums`, `root` is the build context and the hashes are
 * Docker's; without, they are taken from the files.
 */
export function resolveSources(root: string, srcs: string[], sums?: ContextSums): CopySource[] {
  const found: CopySource[] = [];
  for (const src of srcs) {
    const rel = cleanRel(src);
    if (hasWildcard(rel)) {
      const re = globToRegExp(rel);
      const matches = walk(root).filter((p) => re.test(p));
      for (const m of matches) {
        const host = path.join(root, m);
        found.push({ rel: m, host, stat: fs.lstatSync(host), hash: '' });
      }
      continue;
    }
    const host = rel === '.' ? root : secureJoin(root, rel);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(host);
    } catch {
      throw new NotFound(
        `file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`,
      );
    }
    found.push({ rel, host, stat, hash: '' });
  }
  if (found.length === 0) throw new BuildStepError('no source files were specified');
  for (const s of found) s.hash = sums ? contextHash(root, s, sums) : treeHash(s);
  return found;
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

/** Docker's prefix + sha256 over the hashes joined with commas (hashStringSlice). */
const joined = (prefix: string, hashes: string[]) => `${prefix}:${sha256(hashes.join(','))}`;

/**
 * Docker's Hash(path) on a context: the tarsum of the entry `rel` leads to (symlinks followed
 * inside the context), or `rel` itself when that is no entry of the tar.
 */
function contextSum(root: string, rel: string, sums: ContextSums): string {
  let host: string;
  try {
    host = secureJoin(root, rel);
  } catch {
    return rel;
  }
  return sums.get(path.relative(root, host)) ?? rel;
}

/** A context source as Docker hashes it: a file by its sum; a directory by the sorted sums under it (itself included, the context root not). */
function contextHash(root: string, s: CopySource, sums: ContextSums): string {
  if (!s.stat.isDirectory()) return `file:${contextSum(root, s.rel, sums)}`;
  const base = path.relative(root, s.host);
  const rels = walk(s.host).map((r) => (base ? `${base}/${r}` : r));
  if (base) rels.unshift(base);
  return joined('dir', rels.map((r) => contextSum(root, r, sums)).sort());
}

function hashEntry(h: crypto.Hash, rel: string, host: string, st: fs.Stats): void {
  const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
  const link = st.isSymbolicLink() ? fs.readlinkSync(host) : '';
  h.update(`${rel}\0${type}\0${(st.mode & 0o7777).toString(8)}\0${st.isFile() ? st.size : 0}\0${link}\0`);
  if (st.isFile()) h.update(crypto.createHash('sha256').update(fs.readFileSync(host)).digest('hex'));
}

/** A source in another stage's (or image's) root, hashed from its files. */
function treeHash(s: CopySource): string {
  const h = crypto.createHash('sha256');
  if (!s.stat.isDirectory()) {
    hashEntry(h, path.posix.basename(s.rel), s.host, s.stat);
    return `file:${h.digest('hex')}`;
  }
  hashEntry(h, '.', s.host, s.stat);
  for (const rel of walk(s.host)) {
    const host = path.join(s.host, rel);
    hashEntry(h, rel, host, fs.lstatSync(host));
  }
  return `dir:${h.digest('hex')}`;
}

/** The hash in the COPY/ADD cache comment: one source's own, or `multi:` over all of them in order. */
export function sourcesHash(sources: CopySource[]): string {
  if (sources.length === 1) return sources[0]!.hash;
  return joined(
    'multi',
    sources.map((s) => s.hash),
  );
}

export { walk as walkTree };
