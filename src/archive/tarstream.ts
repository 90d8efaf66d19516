// tar-stream used strictly as a parser: it never touches the filesystem. Its PAX decoder reads
// every record value as UTF-8, which would corrupt binary xattr values (security.capability),
// so the decoder is replaced once with one that keeps SCHILY.xattr.* values as latin1 strings
// (one char per byte; see xattrValue). Both the extractor and the packer share the module.
// Its header decoder does not know GNU's old sparse type 'S' (it would hand the sparse map's
// entries over as file data), so the decoder is wrapped to read that map from the header block.
// Its extractor mishandles a PAX or GNU long-name entry with no data (see consumeHeader below).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import tarStream from 'tar-stream';

export type { Header as TarHeaders } from 'tar-stream';

const require = createRequire(import.meta.url);
// The package's export map hides headers.js; loading it by file name yields the very module
// object extract.js uses, so replacing a property here changes what the extractor calls.
const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as {
  decodePax: (buf: Buffer) => Record<string, string>;
  encodePax: (opts: { name?: string; linkname?: string; pax?: Record<string, string> }) => Buffer;
  decode: (buf: Buffer, filenameEncoding: string, allowUnknownFormat: boolean) => Record<string, unknown> | null;
  decodeLongPath: (buf: Buffer, encoding: string) => string;
};

export const XATTR_PREFIX = 'SCHILY.xattr.';
/** Where decodePax collects the segments of a PAX 0.0 sparse map (a key no tar writes). */
export const SPARSE_MAP_00 = 'GNU.sparse.map00';

/** What the wrapped decoder adds to a GNU 'S' header: the map held in the header block. */
export interface GnuSparseHeader {
  realSize: number;
  map: Array<[number, number]>;
  /** The map continues in extension blocks after the header. */
  extended: boolean;
}

/** A numeric header field: octal text, or GNU's base-256 (high bit set) for big values. */
export function numeric(buf: Buffer, off: number, len: number): number {
  if (buf[off]! & 0x80) {
    let v = buf[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i]!;
    return v;
  }
  const s = buf
    .toString('latin1', off, off + len)
    .replace(/^ +/, '')
    .split(/[\0 ]/)[0]!;
  return s === '' ? 0 : /^[0-7]+$/.test(s) ? parseInt(s, 8) : NaN;
}

const originalDecode = headers.decode;
headers.decode = (buf, filenameEncoding, allowUnknownFormat) => {
  const h = originalDecode(buf, filenameEncoding, allowUnknownFormat);
  // Refused here, where tar-stream reports a throw as a broken header: a negative (base-256)
  // size found later, once it has locked itself for the entry, stalls it for good.
  if (h !== null && !(Number.isSafeInteger(h.size) && (h.size as number) >= 0))
    throw new Error(`Invalid tar header: size ${String(h.size)}`);
  if (h === null || buf[156] !== 0x53 /* 'S' */) return h;
  const map: Array<[number, number]> = [];
  for (let i = 0; i < 4; i++) {
    const off = 386 + i * 24;
    if (buf[off] === 0) break;
    map.push([numeric(buf, off, 12), numeric(buf, off + 12, 12)]);
  }
  const sparse: GnuSparseHeader = { realSize: numeric(buf, 483, 12), map, extended: buf[482] !== 0 };
  return { ...h, type: 'gnu-sparse', gnuSparse: sparse };
};

/** PAX records of an extended header's data (also read by the tar-split recorder). */
export function decodePax(buf: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const len = parseInt(buf.toString('latin1', off, sp), 10);
    if (!len || len < 0 || off + len > buf.length) break;
    const rec = buf.subarray(sp + 1, off + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) break;
    const key = rec.toString('utf8', 0, eq);
    const value = key.startsWith(XATTR_PREFIX) ? rec.toString('latin1', eq + 1) : rec.toString('utf8', eq + 1);
    // tar-stream takes this size as is; a negative or fractional one would stall its parser.
    if (key === 'size' && !(/^\d+$/.test(value) && Number.isSafeInteger(Number(value))))
      throw new Error(`Invalid tar header: PAX size ${JSON.stringify(value)}`);
    // PAX sparse format 0.0 repeats these two keys once per data segment: kept in order as
    // the comma-separated map of format 0.1.
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      const prev = result[SPARSE_MAP_00];
      result[SPARSE_MAP_00] = prev === undefined ? value : `${prev},${value}`;
    } else {
      result[key] = value;
    }
    off += len;
  }
  return result;
}

/** Encodes PAX records; values of SCHILY.xattr.* are latin1 strings carrying raw bytes. */
export function encodePax(opts: { name?: string; linkname?: string; pax?: Record<string, string> }): Buffer {
  const parts: Buffer[] = [];
  const add = (key: string, value: Buffer) => {
    const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
    let len = body.length + String(body.length).length;
    if (String(len).length !== String(body.length).length) len = body.length + String(len).length;
    parts.push(Buffer.from(String(len)), body);
  };
  if (opts.name) add('path', Buffer.from(opts.name));
  if (opts.linkname) add('linkpath', Buffer.from(opts.linkname));
  for (const [k, v] of Object.entries(opts.pax ?? {})) {
    add(k, Buffer.from(v, k.startsWith(XATTR_PREFIX) ? 'latin1' : 'utf8'));
  }
  return Buffer.concat(parts);
}

headers.decodePax = decodePax;
headers.encodePax = encodePax;

interface ExtractState {
  _longHeader: boolean;
  _missing: number;
  _consumeHeader(): boolean;
  _consumeLongHeader(): boolean;
}
// The extractor's prototype, shared by every extract() (and by tar-stream's own users).
const extractProto = Object.getPrototypeOf(tarStream.extract()) as ExtractState;
const originalConsumeHeader = extractProto._consumeHeader;
// A PAX or long-name entry of size 0: tar-stream marks its data as awaited but, with no byte
// missing, never reads it, so the flag outlives the next entry and the padding after that
// entry's data is taken for the long entry's data (the next header and data with it). Its
// (empty) data is read at once instead, as GNU tar and the batch reader (batch-unpack.ts) do.
extractProto._consumeHeader = function consumeHeader(this: ExtractState): boolean {
  const ok = originalConsumeHeader.call(this);
  if (ok && this._longHeader && this._missing === 0) return this._consumeLongHeader();
  return ok;
};

/** The raw bytes of an xattr PAX value as decoded above. */
export function xattrValue(v: string): Buffer {
  return Buffer.from(v, 'latin1');
}

/**
 * One header block decoded exactly as the extractor decodes it (null for a zero block); throws
 * the extractor's own errors for a broken one. For readers that parse a tar without streams.
 */
export function decodeHeader(block: Buffer): TarHeader | null {
  return headers.decode(block, 'utf-8', false) as TarHeader | null;
}

/** A GNU long name's data ('L' / 'K' entries), decoded as the extractor decodes it. */
export function decodeLongPath(buf: Buffer): string {
  return headers.decodeLongPath(buf, 'utf-8');
}

type TarHeader = import('tar-stream').Header;

export const extract = tarStream.extract;
export const pack = tarStream.pack;
