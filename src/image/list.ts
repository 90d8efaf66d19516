// GET /images/json after moby's daemon/images/images.go (20.10): filters dangling, label,
// before, since, reference; intermediate images only with `all`; newest first.
import { InvalidParameter } from '../errors.js';
import { matchLabels } from '../util/label-filter.js';
import type { ImageRows } from './image-rows.js';
import type { ImageRow } from './image-db.js';
import { familiar, repositoryOf } from './reference.js';
import { listEntry } from './inspect.js';
import { unixSeconds } from './format.js';

export interface ListOptions {
  all: boolean;
  filters: Map<string, string[]>;
  sharedSize: boolean;
  containerCount: boolean;
}

const allowed = ['dangling', 'label', 'before', 'since', 'reference', 'until'];

/** Go's path.Match, which Docker's reference filter uses. */
export function pathMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) return false;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1).replace(/\\/g, '\\\\');
      re += `[${cls.replace(/\\(?!\\)/g, '\\\\')}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) re += '\\' + pattern[++i];
    else re += ch.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  try {
    return new RegExp(re + '$').test(s);
  } catch {
    return false;
  }
}

export function listImages(store: ImageRows, opts: ListOptions): Record<string, unknown>[] {
  const f = opts.filters;
  for (const k of f.keys()) if (!allowed.includes(k)) throw new InvalidParameter(`Invalid filter '${k}'`);
  let danglingOnly = false;
  const dangling = f.get('dangling');
  if (dangling) {
    for (const v of dangling) {
      if (!['true', 'false', '1', '0'].includes(v.toLowerCase()))
        throw new InvalidParameter(`Invalid filter 'dangling=${v}'`);
    }
    danglingOnly = ['true', '1'].includes(dangling[0]!.toLowerCase());
  }
  const createdOf = (row: ImageRow) => Date.parse(store.configOf(row).created ?? '') || 0;
  const before = f.get('before')?.map((r) => createdOf(store.findRow(r)));
  const since = f.get('since')?.map((r) => createdOf(store.findRow(r)));
  const refPatterns = f.get('reference');
  const rows = store.rows.all();
  const shared = opts.sharedSize ? sharedSizes(store, rows) : undefined;
  const out: { created: number; entry: Record<string, unknown> }[] = [];
  for (const row of rows) {
    const created = createdOf(row);
    if (before?.some((b) => created >= b)) continue;
    if (since?.some((s) => created <= s)) continue;
    const config = store.configOf(row);
    if (!matchLabels(f.get('label'), config.config?.Labels)) continue;
    let tags: string[] | null = null;
    let digests: string[] | null = null;
    for (const ref of store.rows.refsOf(row.id)) {
      const fam = familiar(ref);
      if (refPatterns && !refPatterns.some((p) => pathMatch(p, fam) || pathMatch(p, familiar(repositoryOf(ref)))))
        continue;
      if (ref.includes('@')) (digests ??= []).push(fam);
      else (tags ??= []).push(fam);
    }
    if (!tags && !digests) {
      if (!(opts.all || store.rows.children(row.id).length === 0)) continue;
      if (dangling && !danglingOnly) continue;
      if (refPatterns) continue;
      tags = ['<none>:<none>'];
      digests = ['<none>@<none>'];
    } else if (danglingOnly && tags) {
      continue;
    }
    const containers = opts.containerCount ? store.usersOf(row.id).length : -1;
    out.push({ created, entry: listEntry(store, row, tags, digests, shared?.get(row.id) ?? -1, containers) });
  }
  return out
    .sort((a, b) => b.created - a.created || String(a.entry.Id).localeCompare(String(b.entry.Id)))
    .map((x) => x.entry);
}

/** SharedSize: the sizes of this image's layers that some other image also uses (B7). */
function sharedSizes(store: ImageRows, rows: ImageRow[]): Map<string, number> {
  const users = new Map<string, number>();
  const chains = new Map<string, string[]>();
  for (const row of rows) {
    const ls = store.layerRowsOf(row).map((l) => l.chainID);
    chains.set(row.id, ls);
    for (const c of ls) users.set(c, (users.get(c) ?? 0) + 1);
  }
  const out = new Map<string, number>();
  for (const row of rows) {
    let n = 0;
    for (const c of chains.get(row.id) ?? []) if ((users.get(c) ?? 0) > 1) n += store.layers.get(c)?.size ?? 0;
    out.set(row.id, n);
  }
  return out;
}

export { unixSeconds };
