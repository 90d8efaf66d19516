// `--user name|uid[:group|gid]` resolved against the container's own /etc/passwd and
// /etc/group, as runc's user package does (read through the rootfs, never the host's).
import { InvalidParameter } from '../errors.js';
import { readFileInRoot } from './rootfs-path.js';
import type { OciUser } from './oci-spec.js';

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

function parsePasswd(text: string | undefined): PasswdEntry[] {
  return (text ?? '')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const f = l.split(':');
      return { name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' };
    })
    .filter((e) => Number.isInteger(e.uid) && Number.isInteger(e.gid));
}

function parseGroup(text: string | undefined): GroupEntry[] {
  return (text ?? '')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const f = l.split(':');
      return { name: f[0] ?? '', gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) };
    })
    .filter((e) => Number.isInteger(e.gid));
}

const isNumeric = (s: string) => /^\d+$/.test(s);

export interface ResolvedUser extends OciUser {
  home: string;
}

export function resolveUser(rootfs: string, spec: string | undefined, groupAdd: string[] = []): ResolvedUser {
  const passwd = parsePasswd(readFileInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(readFileInRoot(rootfs, '/etc/group'));
  const [userPart = '', groupPart] = (spec ?? '').split(':', 2) as [string?, string?];
  let uid = 0;
  let gid = 0;
  let home = '/';
  let name = 'root';
  if (userPart === '') {
    const root = passwd.find((p) => p.uid === 0);
    if (root) {
      gid = root.gid;
      home = root.home;
    }
  } else {
    const entry =
      passwd.find((p) => p.name === userPart) ??
      (isNumeric(userPart) ? passwd.find((p) => p.uid === Number(userPart)) : undefined);
    if (entry) {
      uid = entry.uid;
      gid = entry.gid;
      home = entry.home;
      name = entry.name;
    } else if (isNumeric(userPart)) {
      uid = Number(userPart);
      name = '';
    } else {
      throw new InvalidParameter(`unable to find user ${userPart}: no matching entries in passwd file`);
    }
  }
  if (groupPart !== undefined && groupPart !== '') {
    const g =
      groups.find((e) => e.name === groupPart) ?? (isNumeric(groupPart) ? { gid: Number(groupPart) } : undefined);
    if (!g) throw new InvalidParameter(`unable to find group ${groupPart}: no matching entries in group file`);
    gid = g.gid;
  }
  // runc's GetExecUser: the supplementary groups start with the primary group.
  const additional = new Set<number>([gid]);
  if (name && (groupPart === undefined || groupPart === '')) {
    for (const g of groups) if (g.members.includes(name) && g.gid !== gid) additional.add(g.gid);
  }
  for (const ga of groupAdd) {
    const g = groups.find((e) => e.name === ga) ?? (isNumeric(ga) ? { gid: Number(ga) } : undefined);
    if (!g) throw new InvalidParameter(`Unable to find group ${ga}: no matching entries in group file`);
    additional.add(g.gid);
  }
  return { uid, gid, additionalGids: [...additional], home };
}
