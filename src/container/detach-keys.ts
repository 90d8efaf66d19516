// The detach sequence of a TTY attach (default ctrl-p,ctrl-q): bytes matching it are held
// back; the complete sequence ends the attach without reaching the container.
import { InvalidParameter } from '../errors.js';

/** Docker's --detach-keys syntax: comma-separated "ctrl-<x>" or single characters. */
export function parseDetachKeys(spec: string | null | undefined): number[] {
  const s = spec || 'ctrl-p,ctrl-q';
  return s.split(',').map((k) => {
    if (k.length === 1) return k.charCodeAt(0);
    const m = /^ctrl-([a-z@[\\\]^_])$/.exec(k);
    if (!m) throw new InvalidParameter(`Invalid detach keys (${s}) provided`);
    const c = m[1]!;
    if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96;
    return { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, _: 31 }[c]!;
  });
}

/** Filters stdin: returns what to forward, and whether the sequence was completed. */
export function detachFilter(keys: number[]): (chunk: Buffer) => { forward: Buffer; detach: boolean } {
  let matched = 0;
  return (chunk) => {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === keys[matched]) {
        matched++;
        if (matched === keys.length) return { forward: Buffer.from(out), detach: true };
        continue;
      }
      // A partial match that breaks off is ordinary input after all.
      out.push(...keys.slice(0, matched));
      matched = 0;
      if (b === keys[0]) {
        matched = 1;
        continue;
      }
      out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  };
}
