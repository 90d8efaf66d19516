// Owner names for tar headers. Docker 20.10's tar writer (Go's archive/tar FileInfoHeader) looks
// numeric ids up in the host's user and group databases; names appear in `docker save` and
// `docker export` output, so Strata fills them the same way; text ACLs name them the other way
// round. Read once: they rarely change.
import { readFileSync } from 'node:fs';

/** name → id of every entry of an /etc/passwd- or /etc/group-style file, the first of each kept. */
function entries(file: string): [string, number][] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: [string, number][] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || f[0] === '' || line.startsWith('#')) continue;
    const id = Number(f[2]);
    if (Number.isInteger(id)) out.push([f[0]!, id]);
  }
  return out;
}

function byId(file: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const [name, id] of entries(file)) if (!out.has(id)) out.set(id, name);
  return out;
}

function byName(file: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, id] of entries(file)) if (!out.has(name)) out.set(name, id);
  return out;
}

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

export function userName(uid: number): string {
  users ??= byId('/etc/passwd');
  return users.get(uid) ?? '';
}

export function groupName(gid: number): string {
  groups ??= byId('/etc/group');
  return groups.get(gid) ?? '';
}

let userIds: Map<string, number> | undefined;
let groupIds: Map<string, number> | undefined;

/** The id of a host user or group name; undefined when the host has none of that name. */
export function idOfName(kind: 'user' | 'group', name: string): number | undefined {
  const db = kind === 'user' ? (userIds ??= byName('/etc/passwd')) : (groupIds ??= byName('/etc/group'));
  return db.get(name);
}
