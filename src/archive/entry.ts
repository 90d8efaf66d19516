// One tar entry as the writer needs it: a cleaned root-relative name and numeric metadata with
// the PAX overrides (uid, gid, mtime, atime, xattrs) already applied.
import { posix } from 'node:path';
import { InvalidParameter } from '../errors.js';
import type { Timespec } from '../native/syscalls.js';
import { XATTR_PREFIX, xattrValue, type TarHeaders } from './tarstream.js';

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
}

/**
 * Cleans a tar name the way Docker does: leading slashes dropped (`/etc/x` is `etc/x`), `.` and
 * `..` resolved lexically; a name that still climbs out is a breakout. Returns null for the
 * root itself.
 */
export function cleanEntryName(raw: string): string | null {
  const name = posix.normalize(raw.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (name === '' || name === '.') return null;
  if (name === '..' || name.startsWith('../')) throw new InvalidParameter(`invalid entry name ${JSON.stringify(raw)}: it escapes the target directory`);
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

const TYPES = new Set<string>(['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo']);

/** Returns null for headers that carry no filesystem entry (global PAX headers and the root). */
export function toEntry(h: TarHeaders): TarEntry | null {
  let type = h.type as string;
  if (type === 'contiguous-file') type = 'file';
  if (type === 'pax-global-header') return null;
  if (!TYPES.has(type)) throw new InvalidParameter(`unhandled tar header type ${JSON.stringify(type)} for ${JSON.stringify(h.name)}`);
  const name = cleanEntryName(h.name);
  if (name === null) return null;
  const pax = (h.pax ?? {}) as Record<string, string>;
  const mtime = parseTime(pax.mtime) ?? { sec: Math.floor((h.mtime?.getTime() ?? 0) / 1000), nsec: 0 };
  let atime = parseTime(pax.atime) ?? mtime;
  if (atime.sec < mtime.sec || (atime.sec === mtime.sec && atime.nsec < mtime.nsec)) atime = mtime;
  const xattrs: Array<[string, Buffer]> = [];
  for (const [k, v] of Object.entries(pax)) {
    if (k.startsWith(XATTR_PREFIX)) xattrs.push([k.slice(XATTR_PREFIX.length), xattrValue(v)]);
  }
  return {
    name,
    rawName: h.name,
    type: type as EntryType,
    mode: (h.mode ?? 0o644) & 0o7777,
    uid: pax.uid !== undefined ? Number(pax.uid) : h.uid ?? 0,
    gid: pax.gid !== undefined ? Number(pax.gid) : h.gid ?? 0,
    size: h.size ?? 0,
    mtime,
    atime,
    linkname: h.linkname ?? '',
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
    xattrs,
  };
}
