// POSIX ACLs that a tar records only as text (GNU tar's `--acls` without `--xattrs`:
// SCHILY.acl.access / SCHILY.acl.default, e.g. "user::rw-\nuser:1000:r--\nmask::r--\n...") turned
// into the binary system.posix_acl_* xattrs the kernel takes, as GNU tar's extraction did. A
// named qualifier is looked up in the host's user and group databases, as GNU tar does.
import { InvalidParameter } from '../errors.js';
import { idOfName } from './idnames.js';

const TAGS: Record<string, [number, number]> = {
  // tag name → [tag with no qualifier, tag with one]
  user: [0x01, 0x02],
  group: [0x04, 0x08],
  mask: [0x10, 0x10],
  other: [0x20, 0x20],
};
const NO_ID = 0xffffffff;

/** The xattr value (version 2, entries of tag u16, perm u16, id u32) of a text ACL. */
export function aclXattr(text: string, entry: string): Buffer {
  const bad = () => new InvalidParameter(`invalid tar: ACL ${JSON.stringify(text)} of ${JSON.stringify(entry)}`);
  const rows: Array<[number, number, number]> = [];
  for (const raw of text.split(/[\n,]/)) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [tag, qual = '', perms = '', extra] = line.split(':');
    const t = TAGS[tag!];
    if (!t || extra !== undefined || !/^[r-][w-][x-]$/.test(perms)) throw bad();
    const perm = (perms[0] === 'r' ? 4 : 0) | (perms[1] === 'w' ? 2 : 0) | (perms[2] === 'x' ? 1 : 0);
    let id = NO_ID;
    if (qual !== '') {
      if (tag !== 'user' && tag !== 'group') throw bad();
      if (/^\d+$/.test(qual)) id = Number(qual);
      else {
        const found = idOfName(tag, qual);
        if (found === undefined)
          throw new InvalidParameter(
            `invalid tar: ACL of ${JSON.stringify(entry)} names ${tag} ${JSON.stringify(qual)}, unknown on this host`,
          );
        id = found;
      }
      if (!Number.isInteger(id) || id >= NO_ID) throw bad();
    }
    rows.push([qual === '' ? t[0] : t[1], perm, id]);
  }
  // The kernel wants the entries ordered by tag, then id.
  rows.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
  const buf = Buffer.alloc(4 + rows.length * 8);
  buf.writeUInt32LE(2, 0);
  rows.forEach(([tag, perm, id], i) => {
    buf.writeUInt16LE(tag, 4 + i * 8);
    buf.writeUInt16LE(perm, 6 + i * 8);
    buf.writeUInt32LE(id, 8 + i * 8);
  });
  return buf;
}
