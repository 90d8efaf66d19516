// One tar entry as the writer needs it: a cleaned root-relative name and numeric metadata with
// the PAX overrides (uid, gid, mtime, atime, xattrs) already applied.
import { posix } from 'node:path';
import { InvalidParameter } from '../errors.js';
import { aclXattr } from './acl.js';
import type { Timespec } from '../native/syscalls.js';
import { SPARSE_MAP_00, XATTR_PREFIX, xattrValue, type GnuSparseHeader, type TarHeaders } from './tarstream.js';

/**
 * A sparse file's layout (GNU's formats: old 'S' headers, PAX 0.0, 0.1 and 1.0). The tar
 * stores only the data segments; everything between them is a hole of zeros.
 */
export interface SparseLayout {
  /** The file's real size (the holes included). */
  realSize: number;
  /** [offset, length] of each stored segment, in order; null: it opens the data (PAX 1.0). */
  map: Array<[number, number]> | null;
}

/**
 * Bounds on the work one sparse entry may cause. Holes cost nothing (the file is extended with
 * ftruncate), so the real size is bounded only by what a filesystem can hold (ext4: 16 TiB);
 * the map is kept in memory, so its length is bounded: 1M segments (16 MiB of heap), far
 * beyond what GNU tar writes for a real file (one segment per data extent).
 */
export const MAX_SPARSE_SIZE = 2 ** 44;
export const MAX_SPARSE_SEGMENTS = 1 << 20;

export type EntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface TarEntry {
  /** Cleaned, relative, never empty, never `..`-prefixed. */
  name: string;
  /** The name as the tar spelled it, for messages. */
  rawName: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Timespec;
  atime: Timespec;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Array<[string, Buffer]>;
  /** Set for a sparse file: its data stream holds only the segments. */
  sparse?: SparseLayout;
}

/**
 * Cleans a tar name the way Docker does: leading slashes dropped (`/etc/x` is `etc/x`), `.` and
 * `..` resolved lexically; a name that still climbs out is a breakout. Returns null for the
 * root itself.
 */
export function cleanEntryName(raw: string): string | null {
  const name = posix.normalize(raw.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (name === '' || name === '.') return null;
  if (name === '..' || name.startsWith('../'))
    throw new InvalidParameter(`invalid entry name ${JSON.stringify(raw)}: it escapes the target directory`);
  return name;
}

function parseTime(v: string | undefined): Timespec | null {
  if (v === undefined || !/^-?\d+(\.\d+)?$/.test(v)) return null;
  const [s, frac = ''] = v.split('.');
  const sec = parseInt(s!, 10);
  let nsec = parseInt((frac + '000000000').slice(0, 9), 10);
  if (v.startsWith('-') && nsec > 0) return { sec: sec - 1, nsec: 1e9 - nsec };
  return { sec, nsec: nsec || 0 };
}

/** An owner id or device number the kernel can take (-1, 2^32-1, means "unchanged" to chown). */
function id(name: string, what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v >= 0xffffffff)
    throw new InvalidParameter(`invalid tar header for ${JSON.stringify(name)}: ${what} ${v}`);
  return v;
}

const TYPES = new Set<string>(['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo']);

function sparseError(name: string, why: string): InvalidParameter {
  return new InvalidParameter(`invalid tar: sparse entry ${JSON.stringify(name)}: ${why}`);
}

function sparseSize(name: string, v: string | number | undefined): number {
  const n = typeof v === 'number' ? v : v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw sparseError(name, `invalid real size ${JSON.stringify(v)}`);
  if (n > MAX_SPARSE_SIZE) throw sparseError(name, `real size ${n} exceeds the bound of ${MAX_SPARSE_SIZE} bytes`);
  return n;
}

/** Checks a map as Go's archive/tar does: segments inside the file, in order, never overlapping. */
export function checkSparseMap(name: string, map: Array<[number, number]>, realSize: number): void {
  if (map.length > MAX_SPARSE_SEGMENTS) throw sparseError(name, `more than ${MAX_SPARSE_SEGMENTS} segments`);
  let end = 0;
  for (const [off, len] of map) {
    if (
      !Number.isSafeInteger(off) ||
      !Number.isSafeInteger(len) ||
      off < 0 ||
      len < 0 ||
      off < end ||
      off + len > realSize
    ) {
      throw sparseError(name, `invalid segment ${off},${len} (previous segment ends at ${end}, file size ${realSize})`);
    }
    end = off + len;
  }
}

function checkStored(name: string, map: Array<[number, number]>, size: number): void {
  const stored = map.reduce((a, [, len]) => a + len, 0);
  if (stored !== size) throw sparseError(name, `the map holds ${stored} bytes, the entry ${size}`);
}

function parseMap(name: string, text: string): Array<[number, number]> {
  const nums = text === '' ? [] : text.split(',').map((x) => (/^\d+$/.test(x) ? Number(x) : NaN));
  if (nums.length % 2 !== 0 || nums.length / 2 > MAX_SPARSE_SEGMENTS) throw sparseError(name, 'malformed sparse map');
  const map: Array<[number, number]> = [];
  for (let i = 0; i < nums.length; i += 2) map.push([nums[i]!, nums[i + 1]!]);
  return map;
}

/** The sparse layout a header announces, if any (and the file's real name for the PAX forms). */
function sparseOf(h: TarHeaders, pax: Record<string, string>): { layout: SparseLayout; name?: string } | undefined {
  const gnu = (h as { gnuSparse?: GnuSparseHeader }).gnuSparse;
  const name = pax['GNU.sparse.name'] ?? h.name;
  if (gnu) {
    if (gnu.extended) throw sparseError(name, 'old GNU sparse maps longer than 4 segments are not supported');
    const layout = { realSize: sparseSize(name, gnu.realSize), map: gnu.map };
    checkSparseMap(name, layout.map, layout.realSize);
    checkStored(name, layout.map, h.size ?? 0);
    return { layout };
  }
  const major = pax['GNU.sparse.major'];
  const minor = pax['GNU.sparse.minor'];
  if (major !== undefined || minor !== undefined) {
    if (major !== '1' || minor !== '0') throw sparseError(name, `format ${major}.${minor} not supported`);
    return {
      layout: { realSize: sparseSize(name, pax['GNU.sparse.realsize']), map: null },
      name: pax['GNU.sparse.name'],
    };
  }
  const text = pax['GNU.sparse.map'] ?? pax[SPARSE_MAP_00];
  if (text === undefined) return undefined;
  const layout = {
    realSize: sparseSize(name, pax['GNU.sparse.size'] ?? pax['GNU.sparse.realsize']),
    map: parseMap(name, text),
  };
  checkSparseMap(name, layout.map, layout.realSize);
  checkStored(name, layout.map, h.size ?? 0);
  return { layout, name: pax['GNU.sparse.name'] };
}

/** Returns null for headers that carry no filesystem entry (global PAX headers and the root). */
export function toEntry(h: TarHeaders): TarEntry | null {
  let type = h.type as string;
  if (type === 'contiguous-file' || type === 'gnu-sparse') type = 'file';
  if (type === 'pax-global-header') return null;
  if (!TYPES.has(type))
    throw new InvalidParameter(`unhandled tar header type ${JSON.stringify(type)} for ${JSON.stringify(h.name)}`);
  const pax = (h.pax ?? {}) as Record<string, string>;
  const sparse = type === 'file' ? sparseOf(h, pax) : undefined;
  const rawName = sparse?.name ?? h.name;
  const name = cleanEntryName(rawName);
  if (name === null) return null;
  if ((type === 'symlink' || type === 'link') && !h.linkname)
    throw new InvalidParameter(`invalid tar: ${type} entry ${JSON.stringify(rawName)} has no target`);
  const mtime = parseTime(pax.mtime) ?? { sec: Math.floor((h.mtime?.getTime() ?? 0) / 1000), nsec: 0 };
  if (!Number.isSafeInteger(mtime.sec))
    throw new InvalidParameter(`invalid tar header for ${JSON.stringify(rawName)}: mtime`);
  let atime = parseTime(pax.atime) ?? mtime;
  if (atime.sec < mtime.sec || (atime.sec === mtime.sec && atime.nsec < mtime.nsec)) atime = mtime;
  const xattrs: Array<[string, Buffer]> = [];
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith(XATTR_PREFIX)) xattrs.push([k.slice(XATTR_PREFIX.length), xattrValue(v)]);
  }
  // ACLs recorded only as text; the binary xattr form wins when a tar has both.
  for (const [key, xattr] of [
    ['SCHILY.acl.access', 'system.posix_acl_access'],
    ['SCHILY.acl.default', 'system.posix_acl_default'],
  ] as const) {
    const text = pax[key];
    if (text && !xattrs.some(([n]) => n === xattr)) xattrs.push([xattr, aclXattr(text, rawName)]);
  }
  return {
    name,
    rawName,
    type: type as EntryType,
    mode: (h.mode ?? 0o644) & 0o7777,
    uid: id(rawName, 'uid', pax.uid !== undefined ? Number(pax.uid) : (h.uid ?? 0)),
    gid: id(rawName, 'gid', pax.gid !== undefined ? Number(pax.gid) : (h.gid ?? 0)),
    size: h.size ?? 0,
    mtime,
    atime,
    linkname: h.linkname ?? '',
    devmajor: id(rawName, 'devmajor', h.devmajor ?? 0),
    devminor: id(rawName, 'devminor', h.devminor ?? 0),
    xattrs,
    ...(sparse ? { sparse: sparse.layout } : {}),
  };
}
