// Tar headers as Go's archive/tar writes them for Docker (FormatPAX): a USTAR header, preceded
// by a PAX extended header when a field does not fit (long or non-ASCII names, xattrs, big ids).
import type { EntryType } from './entry.js';
import { encodePax, XATTR_PREFIX } from './tarstream.js';

export interface PackHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (Docker truncates to whole seconds). */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Array<[string, Buffer]>;
  uname?: string;
  gname?: string;
}

const TYPEFLAG: Record<EntryType | 'pax', string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  pax: 'x',
};

const MAX_OCTAL7 = 0o7777777;
const MAX_OCTAL11 = 0o77777777777;

function octal(buf: Buffer, off: number, width: number, value: number): void {
  const s = Math.max(0, Math.floor(value))
    .toString(8)
    .padStart(width - 1, '0');
  buf.write(s.slice(-(width - 1)), off, 'latin1');
  buf[off + width - 1] = 0;
}

function isAsciiFit(s: string, max: number): boolean {
  return s.length <= max && /^[\x00-\x7f]*$/.test(s);
}

function ustar(name: string, typeflag: string, h: Omit<PackHeader, 'name' | 'type'>): Buffer {
  const b = Buffer.alloc(512);
  b.write(name.slice(0, 100), 0, 'latin1');
  // Go's FileInfoHeader (Docker 20.10) keeps the file type bits (S_IFDIR…) in the mode field.
  octal(b, 100, 8, h.mode & 0o7777777);
  octal(b, 108, 8, h.uid > MAX_OCTAL7 ? 0 : h.uid);
  octal(b, 116, 8, h.gid > MAX_OCTAL7 ? 0 : h.gid);
  octal(b, 124, 12, h.size > MAX_OCTAL11 ? 0 : h.size);
  octal(b, 136, 12, h.mtime < 0 || h.mtime > MAX_OCTAL11 ? 0 : h.mtime);
  b.write(typeflag, 156, 'latin1');
  if (h.linkname) b.write(h.linkname.slice(0, 100), 157, 'latin1');
  b.write('ustar\x0000', 257, 'latin1');
  if (h.uname && isAsciiFit(h.uname, 32)) b.write(h.uname, 265, 'latin1');
  if (h.gname && isAsciiFit(h.gname, 32)) b.write(h.gname, 297, 'latin1');
  octal(b, 329, 8, h.devmajor ?? 0);
  octal(b, 337, 8, h.devminor ?? 0);
  b.write(headerChecksum(b).toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

/** A tar header's checksum: the sum of its 512 bytes, its checksum field counted as spaces. */
export function headerChecksum(b: Buffer): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let i = 156; i < 512; i++) sum += b[i]!;
  return sum;
}

function padding(size: number): number {
  return (512 - (size % 512)) % 512;
}

/** The header blocks for one entry (PAX + USTAR, or USTAR alone). */
export function encodeHeader(h: PackHeader): Buffer {
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const pax: Record<string, string> = {};
  let paxName: string | undefined;
  let paxLink: string | undefined;
  if (!isAsciiFit(name, 100)) paxName = name;
  if (h.linkname && !isAsciiFit(h.linkname, 100)) paxLink = h.linkname;
  if (h.uid > MAX_OCTAL7) pax.uid = String(h.uid);
  if (h.gid > MAX_OCTAL7) pax.gid = String(h.gid);
  if (h.size > MAX_OCTAL11) pax.size = String(h.size);
  for (const [k, v] of h.xattrs ?? []) pax[XATTR_PREFIX + k] = v.toString('latin1');
  const main = ustar(toAscii(name), TYPEFLAG[h.type], { ...h, linkname: h.linkname && toAscii(h.linkname) });
  if (paxName === undefined && paxLink === undefined && Object.keys(pax).length === 0) return main;
  // Go sorts the records by key; path and linkpath sort among them.
  const records: Record<string, string> = {};
  const all: Record<string, string> = { ...pax };
  if (paxName !== undefined) all.path = paxName;
  if (paxLink !== undefined) all.linkpath = paxLink;
  for (const k of Object.keys(all).sort()) records[k] = all[k]!;
  const data = encodePax({ pax: records });
  const slash = name.replace(/\/$/, '').lastIndexOf('/');
  const dir = slash < 0 ? '' : name.slice(0, slash + 1);
  const file = name.slice(slash + 1).replace(/\/$/, '');
  const paxHeader = ustar(toAscii(`${dir}PaxHeaders.0/${file}`), TYPEFLAG.pax, {
    mode: 0,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: 0,
  });
  return Buffer.concat([paxHeader, data, Buffer.alloc(padding(data.length)), main]);
}

function toAscii(s: string): string {
  return s.replace(/[^\x00-\x7f]/g, '');
}

export const END_OF_ARCHIVE = Buffer.alloc(1024);

export { padding as tarPadding };
