import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { compress as zstdCompress } from 'zstd-napi';
import { applyLayer } from '../../src/archive/index.js';
import * as sys from '../../src/native/syscalls.js';
import { makeTar, readable, tempDir } from './helpers.js';

// A version-2 file capability: binary, with bytes above 0x7f that UTF-8 would mangle.
const CAP_HIGH = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0x04, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

const sample = () =>
  makeTar([
    {
      name: 'etc/',
      type: 'directory',
      mode: 0o755,
      mtime: new Date(1_500_000_000_000),
      pax: { 'SCHILY.xattr.user.dir': 'd' },
    },
    { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644, uid: 0, gid: 0 },
    {
      name: 'usr/bin/ping',
      content: 'ELF',
      mode: 0o4755,
      uid: 0,
      gid: 0,
      pax: { 'SCHILY.xattr.security.capability': CAP_HIGH.toString('latin1') },
    },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'home/user/file', content: 'hello', mode: 0o600, uid: 1000, gid: 1001 },
    { name: 'usr/bin/python3', type: 'symlink', linkname: '/usr/bin/python3.11' },
    { name: 'usr/bin/rel', type: 'symlink', linkname: '../../etc/passwd' },
    { name: 'usr/bin/ping2', type: 'link', linkname: 'usr/bin/ping', mode: 0o4755 },
    {
      name: 'dev/null',
      type: 'character-device',
      devmajor: 1,
      devminor: 3,
      mode: 0o666,
      pax: { 'SCHILY.xattr.trusted.dev': 'v' },
    },
    { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660 },
    { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    { name: '/abs/name', content: 'rooted' },
    { name: 'withxattr', content: 'x', pax: { 'SCHILY.xattr.user.test': 'value' } },
  ]);

test('applyLayer writes every entry type with owners, modes, times and xattrs', async () => {
  const t = tempDir();
  try {
    const tar = await sample();
    const res = await applyLayer(readable(tar), t.path, { whiteouts: 'overlay', sync: false });
    const d = t.path;
    assert.equal(readFileSync(join(d, 'etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
    assert.equal(lstatSync(join(d, 'usr/bin/ping')).mode & 0o7777, 0o4755);
    assert.equal(lstatSync(join(d, 'tmp')).mode & 0o7777, 0o1777);
    const home = lstatSync(join(d, 'home/user/file'));
    assert.deepEqual([home.uid, home.gid, home.mode & 0o777], [1000, 1001, 0o600]);
    assert.equal(readlinkSync(join(d, 'usr/bin/python3')), '/usr/bin/python3.11');
    assert.equal(readlinkSync(join(d, 'usr/bin/rel')), '../../etc/passwd');
    assert.equal(lstatSync(join(d, 'usr/bin/ping2')).ino, lstatSync(join(d, 'usr/bin/ping')).ino);
    const nul = sys.statx(sys.AT_FDCWD, join(d, 'dev/null'));
    assert.equal(nul.mode & sys.S_IFMT, sys.S_IFCHR);
    assert.deepEqual([nul.rdevMajor, nul.rdevMinor, nul.mode & 0o777], [1, 3, 0o666]);
    const loop = sys.statx(sys.AT_FDCWD, join(d, 'dev/loop0'));
    assert.equal(loop.mode & sys.S_IFMT, sys.S_IFBLK);
    assert.deepEqual([loop.rdevMajor, loop.rdevMinor], [7, 0]);
    assert.ok(lstatSync(join(d, 'run/fifo')).isFIFO());
    assert.equal(readFileSync(join(d, 'abs/name'), 'utf8'), 'rooted');
    assert.deepEqual(sys.lgetxattr(join(d, 'usr/bin/ping'), 'security.capability'), CAP_HIGH);
    assert.deepEqual(sys.lgetxattr(join(d, 'withxattr'), 'user.test'), Buffer.from('value'));
    assert.deepEqual(sys.lgetxattr(join(d, 'etc'), 'user.dir'), Buffer.from('d'));
    assert.deepEqual(sys.lgetxattr(join(d, 'dev/null'), 'trusted.dev'), Buffer.from('v'));
    // Directory times are set after their contents were written.
    assert.equal(lstatSync(join(d, 'etc')).mtimeMs, 1_500_000_000_000);
    assert.equal(lstatSync(join(d, 'etc/passwd')).mtimeMs, 1_600_000_000_000);
    assert.equal(res.tarSize, tar.length);
    assert.equal(res.size, 26 + 3 + 5 + 6 + 1);
  } finally {
    t.cleanup();
  }
});

test('diffID is the sha256 of the plain tar, whatever the compression', async () => {
  const tar = await sample();
  const t = tempDir();
  try {
    writeFileSync(join(t.path, 'layer.tar'), tar);
    const expected = `sha256:${execFileSync('sha256sum', [join(t.path, 'layer.tar')], { encoding: 'utf8' }).split(' ')[0]}`;
    const zst = zstdCompress(tar);
    assert.equal(zst.readUInt32LE(0), 0xfd2fb528);
    const inputs: Array<[string, Buffer]> = [
      ['plain', tar],
      ['gzip', gzipSync(tar)],
      ['zstd', zst],
    ];
    for (const [kind, data] of inputs) {
      const dest = join(t.path, kind);
      mkdirSync(dest);
      const res = await applyLayer(readable(data), dest, { whiteouts: 'naive', sync: false });
      assert.equal(res.diffID, expected, kind);
      assert.equal(res.tarSize, tar.length, kind);
      assert.equal(readFileSync(join(dest, 'home/user/file'), 'utf8'), 'hello', kind);
    }
  } finally {
    t.cleanup();
  }
});

test('digest: false extracts the same tree without hashing (the caller hashes the bytes)', async () => {
  const t = tempDir();
  try {
    const res = await applyLayer(readable(await sample()), t.path, {
      whiteouts: 'overlay',
      sync: false,
      digest: false,
    });
    assert.equal(res.diffID, '');
    assert.equal(readFileSync(join(t.path, 'home/user/file'), 'utf8'), 'hello');
    assert.equal(lstatSync(join(t.path, 'usr/bin/ping')).mode & 0o7777, 0o4755);
    assert.ok(res.size > 0);
  } finally {
    t.cleanup();
  }
});

test('an existing non-directory is replaced and an existing directory merged', async () => {
  const t = tempDir();
  try {
    mkdirSync(join(t.path, 'dir'));
    writeFileSync(join(t.path, 'dir/old'), 'keep');
    writeFileSync(join(t.path, 'file'), 'old');
    writeFileSync(join(t.path, 'becomes-dir'), 'old');
    mkdirSync(join(t.path, 'becomes-file/sub'), { recursive: true });
    const tar = await makeTar([
      { name: 'dir/', type: 'directory', mode: 0o700 },
      { name: 'dir/new', content: 'new' },
      { name: 'file', type: 'symlink', linkname: 'dir/new' },
      { name: 'becomes-dir/', type: 'directory' },
      { name: 'becomes-file', content: 'now a file' },
    ]);
    await applyLayer(readable(tar), t.path, { whiteouts: 'naive', sync: false });
    assert.equal(readFileSync(join(t.path, 'dir/old'), 'utf8'), 'keep');
    assert.equal(lstatSync(join(t.path, 'dir')).mode & 0o777, 0o700);
    assert.equal(readlinkSync(join(t.path, 'file')), 'dir/new');
    assert.ok(lstatSync(join(t.path, 'becomes-dir')).isDirectory());
    assert.equal(readFileSync(join(t.path, 'becomes-file'), 'utf8'), 'now a file');
  } finally {
    t.cleanup();
  }
});

test('a hardlink replacing a name does not write through the old inode', async () => {
  const t = tempDir();
  try {
    const tar = await makeTar([
      { name: 'a', content: 'A' },
      { name: 'b', type: 'link', linkname: 'a' },
      { name: 'b', content: 'B' },
    ]);
    await applyLayer(readable(tar), t.path, { whiteouts: 'naive', sync: false });
    assert.equal(readFileSync(join(t.path, 'a'), 'utf8'), 'A');
    assert.equal(readFileSync(join(t.path, 'b'), 'utf8'), 'B');
  } finally {
    t.cleanup();
  }
});

test('file modes survive the umask and owners follow the tar, also under a setgid directory', async () => {
  const t = tempDir();
  try {
    const tar = await makeTar([
      { name: 'sg/file-before', content: 'x', mode: 0o666 },
      { name: 'sg/', type: 'directory', mode: 0o2775, gid: 50 },
      { name: 'sg/file', content: 'x', mode: 0o640 },
      { name: 'plain', content: 'x', mode: 0o777 },
    ]);
    await applyLayer(readable(tar), t.path, { whiteouts: 'naive', sync: false });
    const before = lstatSync(join(t.path, 'sg/file-before'));
    assert.deepEqual([before.mode & 0o7777, before.gid], [0o666, 0]);
    const f = lstatSync(join(t.path, 'sg/file'));
    assert.deepEqual([f.mode & 0o7777, f.uid, f.gid], [0o640, 0, 0]);
    assert.equal(lstatSync(join(t.path, 'sg')).mode & 0o7777, 0o2775);
    assert.equal(lstatSync(join(t.path, 'plain')).mode & 0o7777, 0o777);
  } finally {
    t.cleanup();
  }
});
