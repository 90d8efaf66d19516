// COPY/ADD sources: resolving them inside the build context (or another stage's root) the way
// Docker does (symlinks followed within the root, `..` refused, wildcards matched like Go's
// filepath.Match), and the content hash that goes into the cache key (`file:<sha256>`,
// `dir:<sha256>`, `multi:<sha256>`): names, modes, sizes, link targets and contents, never
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

/** Content digests already known by host path (taken while the context was unpacked). */
export type ContentDigests = Map<string, string>;

export function resolveSources(root: string, srcs: string[], digests?: ContentDigests): CopySource[] {
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
      throw new NotFound(`file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
    }
    found.push({ rel, host, stat, hash: '' });
  }
  if (found.length === 0) throw new BuildStepError('no source files were specified');
  for (const s of found) s.hash = hashSource(s, digests);
  return found;
}

function hashEntry(h: crypto.Hash, rel: string, host: string, st: fs.Stats, digests?: ContentDigests): void {
  const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
  const link = st.isSymbolicLink() ? fs.readlinkSync(host) : '';
  h.update(`${rel}\0${type}\0${(st.mode & 0o7777).toString(8)}\0${st.isFile() ? st.size : 0}\0${link}\0`);
  if (!st.isFile()) return;
  const known = digests?.get(host);
  h.update(known ?? crypto.createHash('sha256').update(fs.readFileSync(host)).digest('hex'));
}

function hashSource(s: CopySource, digests?: ContentDigests): string {
  if (!s.stat.isDirectory()) {
    const h = crypto.createHash('sha256');
    hashEntry(h, path.posix.basename(s.rel), s.host, s.stat, digests);
    return `file:${h.digest('hex')}`;
  }
  const h = crypto.createHash('sha256');
  hashEntry(h, '.', s.host, s.stat, digests);
  for (const rel of walk(s.host)) {
    const host = path.join(s.host, rel);
    hashEntry(h, rel, host, fs.lstatSync(host), digests);
  }
  return `dir:${h.digest('hex')}`;
}

/** The hash in the COPY/ADD cache comment: one source's own, or `multi:` over all of them. */
export function sourcesHash(sources: CopySource[]): string {
  if (sources.length === 1) return sources[0]!.hash;
  return 'multi:' + crypto.createHash('sha256').update(sources.map((s) => s.hash).join(',')).digest('hex');
}

export { walk as walkTree };
