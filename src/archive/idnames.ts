// Owner names for tar headers. Docker 20.10's tar writer (Go's archive/tar FileInfoHeader) looks
// numeric ids up in the host's user and group databases; names appear in `docker save` and
// `docker export` output, so Strata fills them the same way. Read once: they rarely change.
import { readFileSync } from 'node:fs';

function load(file: string): Map<number, string> {
  const out = new Map<number, string>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || f[0] === '' || line.startsWith('#')) continue;
    const id = Number(f[2]);
    if (Number.isInteger(id) && !out.has(id)) out.set(id, f[0]!);
  }
  return out;
}

let users: Map<number, string> | undefined;
let groups: Map<number, string> | undefined;

export function userName(uid: number): string {
  users ??= load('/etc/passwd');
  return users.get(uid) ?? '';
}

export function groupName(gid: number): string {
  groups ??= load('/etc/group');
  return groups.get(gid) ?? '';
}
