// Volume import: entries hidden from one tar reader but written by another, and symlinks that
// climb out through another symlink, never reach the volume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { InvalidParameter } from '../../src/errors.js';
import { makeTar, type Spec } from '../archive/helpers.js';
import { makeService, manifest, tempDir } from './fixture.js';

/** One 512-byte ustar header (no data), built by hand so any field can lie. */
function header(
  name: string,
  typeflag: string,
  opts: { size?: number; linkname?: string; devmajor?: number; devminor?: number; mode?: number } = {},
): Buffer {
  const b = Buffer.alloc(512);
  const oct = (off: number, width: number, v: number) =>
    b.write(v.toString(8).padStart(width - 1, '0') + '\0', off, 'latin1');
  b.write(name, 0, 'latin1');
  oct(100, 8, opts.mode ?? 0o644);
  oct(108, 8, 0);
  oct(116, 8, 0);
  oct(124, 12, opts.size ?? 0);
  oct(136, 12, 1_600_000_000);
  b.write(typeflag, 156, 'latin1');
  if (opts.linkname) b.write(opts.linkname, 157, 'latin1');
  b.write('ustar\x0000', 257, 'latin1');
  oct(329, 8, opts.devmajor ?? 0);
  oct(337, 8, opts.devminor ?? 0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

test('entries hidden in the data of a hardlink (a device, a disk, an absolute symlink) are refused', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const vol = await volumes.create({ name: 'v' });
    fs.writeFileSync(path.join(vol.mountpoint, 'keep.txt'), 'precious');
    const before = manifest(vol.mountpoint);
    // GNU tar (and Go) read a hardlink's "data" as the next headers; tar-stream skips it.
    const hidden = Buffer.concat([
      header('mem', '3', { devmajor: 1, devminor: 1 }),
      header('disk', '4', { devmajor: 8, devminor: 0 }),
      header('etc', '2', { linkname: '/etc' }),
    ]);
    const content = Buffer.alloc(512, 0x61);
    const tarball = Buffer.concat([
      header('f', '0', { size: 512 }),
      content,
      header('x', '1', { linkname: 'f', size: hidden.length }),
      hidden,
      Buffer.alloc(1024),
    ]);
    const file = path.join(root, 'hidden.tar');
    fs.writeFileSync(file, tarball);
    // What GNU tar makes of this archive: the hidden entries are there.
    assert.match(execFileSync('tar', ['-tvf', file]).toString(), /^c.* mem$/m);
    await assert.rejects(svc.import('v', fs.createReadStream(file)), (err: Error) => {
      assert.ok(err instanceof InvalidParameter, String(err));
      assert.match(err.message, /link entry "x" carries 1536 bytes of data/);
      return true;
    });
    assert.equal(manifest(vol.mountpoint), before);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a symlink that climbs out through another symlink is refused, whichever comes first', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const vol = await volumes.create({ name: 'v' });
    const before = manifest(vol.mountpoint);
    const deep = 'x1/x2/x3/x4/x5/x6/x7/x8';
    const dirs: Spec[] = deep
      .split('/')
      .map((_, i, a) => ({ name: a.slice(0, i + 1).join('/') + '/', type: 'directory' }));
    // Lexically `esc` ends at tmp/pwned inside the volume; s really points 3 levels up, so
    // followed on the host esc leaves the volume by 4 levels.
    const s: Spec = { name: `${deep}/s`, type: 'symlink', linkname: '../../..' };
    const esc: Spec = { name: 'esc', type: 'symlink', linkname: `${deep}/s/${'../'.repeat(9)}tmp/pwned` };
    const orders: Array<[string, Spec[]]> = [
      ['link first', [...dirs, s, esc]],
      ['escaping link first', [...dirs, esc, s]],
      // A symlink that only leaves once a later hardlink gives it a name in another directory.
      [
        'hardlink to a symlink',
        [
          { name: 'd/', type: 'directory' },
          { name: 'd/e/', type: 'directory' },
          { name: 'd/e/up', type: 'symlink', linkname: '../..' },
          { name: 'up2', type: 'link', linkname: 'd/e/up' },
        ],
      ],
      ['write through it', [...dirs, s, { name: `${deep}/s/x5/pwned`, content: 'x' }]],
    ];
    for (const [what, specs] of orders) {
      const file = path.join(root, 'esc.tar');
      fs.writeFileSync(file, await makeTar(specs));
      await assert.rejects(svc.import('v', fs.createReadStream(file)), InvalidParameter, what);
      assert.equal(manifest(vol.mountpoint), before, what);
    }
    // The same shapes staying inside are fine.
    const ok = path.join(root, 'ok.tar');
    fs.writeFileSync(ok, await makeTar([...dirs, s, { name: 'in', type: 'symlink', linkname: `${deep}/s/../../tmp` }]));
    await svc.import('v', fs.createReadStream(ok));
    assert.equal(fs.readlinkSync(path.join(vol.mountpoint, 'in')), `${deep}/s/../../tmp`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('ACLs a tar records only as text (tar --acls without --xattrs) come back as the same ACLs', async () => {
  const root = tempDir();
  try {
    const { svc, volumes } = makeService(root);
    const src = path.join(root, 'src');
    fs.mkdirSync(path.join(src, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(src, 'f'), 'x');
    const py = (code: string) => execFileSync('python3', ['-c', `import os,struct,sys\n${code}`, src]).toString();
    // user::rw- user:1000:r-- group::r-- mask::r-- other::r--, and a default ACL on dir.
    py(`def acl(e): return struct.pack('<I',2)+b''.join(struct.pack('<HHI',*x) for x in e)
U=0xffffffff
os.setxattr(sys.argv[1]+'/f','system.posix_acl_access',acl([(1,6,U),(2,4,1000),(4,4,U),(16,4,U),(32,4,U)]))
os.setxattr(sys.argv[1]+'/dir','system.posix_acl_default',acl([(1,7,U),(2,5,1000),(4,5,U),(16,5,U),(32,5,U)]))`);
    const file = path.join(root, 'acl.tar');
    execFileSync('tar', ['--create', '--format=posix', '--acls', '--numeric-owner', `--file=${file}`, '-C', src, '.']);
    assert.doesNotMatch(fs.readFileSync(file, 'latin1'), /SCHILY\.xattr/, 'the tar holds the text form only');
    const vol = await volumes.create({ name: 'v' });
    await svc.import('v', fs.createReadStream(file));
    const read = (p: string, name: string) =>
      execFileSync('python3', [
        '-c',
        'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).hex())',
        p,
        name,
      ]).toString();
    assert.equal(
      read(path.join(vol.mountpoint, 'f'), 'system.posix_acl_access'),
      read(path.join(src, 'f'), 'system.posix_acl_access'),
    );
    assert.equal(
      read(path.join(vol.mountpoint, 'dir'), 'system.posix_acl_default'),
      read(path.join(src, 'dir'), 'system.posix_acl_default'),
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
