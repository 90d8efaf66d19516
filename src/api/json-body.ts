// What a JSON request body must be before it is parsed: small enough, an object at the top,
// and not nested deeper than any Engine API body is. One linear pass over the bytes decides
// it, so a hostile body (megabytes of "[[[[...") is refused in milliseconds instead of
// being handed to JSON.parse, which holds the event loop, and every other request, while it
// builds millions of nested arrays.
import { InvalidParameter } from '../errors.js';

/** The default bound of a JSON body; endpoints whose bodies can legitimately be larger pass their own. */
export const JSON_BODY_LIMIT = 4 << 20;

/**
 * Engine API bodies nest a handful of levels (HostConfig.Mounts[].VolumeOptions.DriverConfig.Options
 * is the deepest, at 6); Go's decoder stops at 10000, which is far beyond any real body.
 */
export const JSON_MAX_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Go's name for the JSON value that starts with `c`, as its "cannot unmarshal X" says. */
function kindOf(c: number): string | undefined {
  if (c === 0x5b) return 'array';
  if (c === QUOTE) return 'string';
  if (c === 0x74 || c === 0x66) return 'bool';
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return 'number';
  return undefined;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/**
 * Checks `buf` and tells what it holds at the top: 'object', 'null' or 'empty'. Anything else
 * (an array, a string, a number, nesting beyond the bound) is refused with a 400 in Go's
 * words where Docker has them: `json: cannot unmarshal array into Go value of type T`.
 */
export function checkJsonBody(buf: Buffer, goType: string, maxDepth = JSON_MAX_DEPTH): 'object' | 'null' | 'empty' {
  let i = 0;
  while (i < buf.length && isSpace(buf[i]!)) i++;
  if (i === buf.length) return 'empty';
  const first = buf[i]!;
  if (first !== 0x7b) {
    if (first === 0x6e && buf.subarray(i, i + 4).toString('latin1') === 'null') {
      let j = i + 4;
      while (j < buf.length && isSpace(buf[j]!)) j++;
      if (j === buf.length) return 'null';
    }
    const kind = kindOf(first);
    if (kind) throw new InvalidParameter(`json: cannot unmarshal ${kind} into Go value of type ${goType}`);
    const ch = String.fromCharCode(first);
    throw new InvalidParameter(`invalid character '${ch}' looking for beginning of value`);
  }
  let depth = 0;
  let inString = false;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      // Go's decoder words, though its bound (10000) is far higher.
      if (++depth > maxDepth)
        throw new InvalidParameter(`invalid character '${String.fromCharCode(c)}' exceeded max depth`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return 'object';
}
