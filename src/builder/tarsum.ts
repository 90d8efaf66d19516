// Docker's classic builder keys COPY/ADD on "tarsum v1" sums of the context's tar entries:
// sha256 over the entry's selected header fields (each written as name then value, no
// separators; never mtime) followed by its content. Taking the same sums from the same tar gives
// the same `COPY file:<sum>` / `dir:` / `multi:` lines as Docker in history and cache keys.
import type { TarHeaders } from '../archive/tarstream.js';
import { XATTR_PREFIX, xattrValue } from '../archive/tarstream.js';

/** Typeflags as Go's tar reader reports them (an old-style regular file reads as '0'). */
const TYPEFLAGS: Record<string, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  'contiguous-file': '7',
};

/** The header part of an entry's tarsum v1, as Docker's WriteV1Header writes it. */
export function tarsumHeader(h: TarHeaders): Buffer {
  const fields: [string, string][] = [
    ['name', h.name],
    ['mode', String(h.mode ?? 0)],
    ['uid', String(h.uid ?? 0)],
    ['gid', String(h.gid ?? 0)],
    ['size', String(h.size ?? 0)],
    ['typeflag', TYPEFLAGS[h.type ?? 'file'] ?? '0'],
    ['linkname', h.linkname ?? ''],
    ['uname', h.uname ?? ''],
    ['gname', h.gname ?? ''],
    ['devmajor', String(h.devmajor ?? 0)],
    ['devminor', String(h.devminor ?? 0)],
  ];
  const parts: Buffer[] = fields.map(([k, v]) => Buffer.from(k + v, 'utf8'));
  const xattrs = Object.entries(h.pax ?? {})
    .filter(([k]) => k.startsWith(XATTR_PREFIX))
    .map(([k, v]) => [k.slice(XATTR_PREFIX.length), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of xattrs) parts.push(Buffer.from(k, 'utf8'), xattrValue(v));
  return Buffer.concat(parts);
}
