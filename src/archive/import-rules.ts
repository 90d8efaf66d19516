// The rules for an archive that comes from outside any image (a volume import): stricter than a
// layer's, judged on what the one parser hands the writer, so what is checked is what is written.
// Refused: a name that is absolute or has a `..` component (a layer's are cleaned instead), a
// hardlink naming something outside, a device node, a symlink whose target is absolute or leaves
// the tree. A symlink is judged by following it through the tree as built (each existing
// symlink on the way expanded, components not there yet taken as written), when it is made and
// again once the tree is complete, since entries made after it can change where it leads (a
// directory on its way replaced by a symlink). Nothing is written through a symlink: the writer's
// ConfinedDir is opened with `noSymlinks`, so an entry under an archive-made link is refused.
import { closeSync } from 'node:fs';
import { InvalidParameter } from '../errors.js';
import * as sys from '../native/syscalls.js';
import { isErrno, type ConfinedDir } from './confine.js';
import type { TarEntry } from './entry.js';
import type { TarHeaders } from './tarstream.js';

/** What the writer asks of a set of rules (writer.ts calls these). */
export interface EntryRules {
  /** Sees every entry (the root entry `./` as null) before anything is written; throws to refuse. */
  check(h: TarHeaders, e: TarEntry | null): void;
  /** A symlink now exists as `name` (made by a symlink entry, or by a hardlink to one). */
  symlinkMade(root: ConfinedDir, name: string): void;
  /** The tree is complete. */
  finish(root: ConfinedDir): void;
}

/** The archive's own entry for the top directory: the volume root's owner and mode. */
export interface RootAttributes {
  uid: number;
  gid: number;
  mode: number;
}

/** The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_HOPS = 40;

function refuse(what: string, why: string): InvalidParameter {
  return new InvalidParameter(`refusing to import ${what}: ${why}`);
}

/** Refuses an absolute name or one with a `..` component (`what` names it in the message). */
function checkName(name: string, what: string): void {
  if (name.startsWith('/')) throw refuse(what, 'absolute path');
  if (name.split('/').includes('..')) throw refuse(what, 'path escapes the volume');
}

/**
 * Whether following `target` from directory `dir` (components, inside `root`) leaves the root,
 * reading the tree as it is now. A loop resolves nowhere, so it does not escape.
 */
export function leavesRoot(root: ConfinedDir, dir: string[], target: string): boolean {
  if (target.startsWith('/')) return true;
  const at = [...dir];
  const pending = target.split('/').reverse();
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (at.length === 0) return true;
      at.pop();
      continue;
    }
    at.push(c);
    // Every component already in `at` is a real directory (links are replaced by their
    // targets), so this lookup follows no symlink.
    const rel = at.join('/');
    let mode: number;
    try {
      mode = sys.statx(root.fd, rel).mode;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) continue;
      throw err;
    }
    if ((mode & sys.S_IFMT) !== sys.S_IFLNK) continue;
    if (++hops > MAX_HOPS) return false;
    const next = sys.readlinkat(root.fd, rel);
    if (next.startsWith('/')) return true;
    at.pop();
    for (const p of next.split('/').reverse()) pending.push(p);
  }
  return false;
}

function numericField(v: string | undefined, fallback: number | undefined): number {
  const n = v !== undefined ? Number(v) : (fallback ?? 0);
  if (!Number.isInteger(n) || n < 0 || n >= 0xffffffff)
    throw new InvalidParameter(`invalid tar header for the volume root: owner ${v ?? fallback}`);
  return n;
}

export class ImportRules implements EntryRules {
  entries = 0;
  /** Sum of the entries' data sizes as the headers give them. */
  bytes = 0;
  root?: RootAttributes;
  private readonly symlinks = new Set<string>();

  check(h: TarHeaders, e: TarEntry | null): void {
    this.entries++;
    this.bytes += h.size ?? 0;
    const raw = e?.rawName ?? h.name;
    checkName(raw, JSON.stringify(raw));
    if (e === null) {
      if (h.type !== 'directory') throw refuse(JSON.stringify(raw), 'the volume root must be a directory');
      const pax = (h.pax ?? {}) as Record<string, string>;
      this.root = {
        uid: numericField(pax.uid, h.uid),
        gid: numericField(pax.gid, h.gid),
        mode: (h.mode ?? 0o755) & 0o7777,
      };
      return;
    }
    switch (e.type) {
      case 'character-device':
      case 'block-device':
        throw refuse(`device node ${JSON.stringify(raw)}`, 'device nodes are not allowed in a volume archive');
      case 'symlink':
        if (e.linkname.startsWith('/')) {
          throw refuse(
            `symlink ${JSON.stringify(raw)} -> ${JSON.stringify(e.linkname)}`,
            'absolute target points outside the volume',
          );
        }
        break;
      case 'link': {
        const what = `hardlink ${JSON.stringify(raw)} -> ${JSON.stringify(e.linkname)}`;
        checkName(e.linkname, what);
        if (e.linkname.split('/').every((p) => p === '' || p === '.')) throw refuse(what, 'it names the volume root');
        break;
      }
    }
  }

  /** The target of symlink `name`, reached without following any symlink; undefined when it is not one (any more). */
  private linkAt(root: ConfinedDir, name: string): string | undefined {
    const slash = name.lastIndexOf('/');
    let pfd = root.fd;
    if (slash >= 0) {
      try {
        pfd = root.openNoSymlinks(name.slice(0, slash), sys.O_PATH | sys.O_DIRECTORY);
      } catch {
        return undefined; // a parent was removed or replaced: this name is another entry's now
      }
    }
    try {
      const base = name.slice(slash + 1);
      let mode: number;
      try {
        mode = sys.statx(pfd, base).mode;
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
        throw err;
      }
      return (mode & sys.S_IFMT) === sys.S_IFLNK ? sys.readlinkat(pfd, base) : undefined;
    } finally {
      if (pfd !== root.fd) closeSync(pfd);
    }
  }

  private judge(root: ConfinedDir, name: string): void {
    const target = this.linkAt(root, name);
    if (target !== undefined && leavesRoot(root, name.split('/').slice(0, -1), target)) {
      throw refuse(`symlink ${JSON.stringify(name)} -> ${JSON.stringify(target)}`, 'target escapes the volume');
    }
  }

  symlinkMade(root: ConfinedDir, name: string): void {
    this.judge(root, name);
    this.symlinks.add(name);
  }

  finish(root: ConfinedDir): void {
    for (const name of this.symlinks) this.judge(root, name);
  }
}
