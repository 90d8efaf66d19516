// packTree (docker export) and the tar headers it writes.
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, packTree } from '../../src/archive/index.js';
import { extract } from '../../src/archive/tarstream.js';
import { InvalidParameter } from '../../src/errors.js';
import * as sys from '../../src/native/syscalls.js';
import { collect, readable, snapshotTree, tempDir } from './helpers.js';

async function listTar(buf: Buffer): Promise<Array<{ name: string; type: string; linkname: string | null }>> {
  const out: Array<{ name: string; type: string; linkname: string | null }> = [];
  const ex = extract();
  ex.on('entry', (h, s, next) => {
    out.push({ name: h.name, type: h.type, linkname: h.linkname ?? null });
    s.on('end', () => next());
    s.resume();
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    ex.end(buf);
  });
  return out;
}

test('packTree archives a whole tree like docker export and round-trips through applyLayer', async () => {
  const t = tempDir();
  try {
    const src = join(t.path, 'src');
    mkdirSync(join(src, 'usr/bin'), { recursive: true });
    mkdirSync(join(src, 'dev'));
    writeFileSync(join(src, 'usr/bin/tool'), 'binary');
    linkSync(join(src, 'usr/bin/tool'), join(src, 'usr/bin/tool2'));
    symlinkSync('/usr/bin/tool', join(src, 'usr/bin/abs'));
    sys.mknod(join(src, 'dev/null'), sys.S_IFCHR | 0o666, 1, 3);
    sys.lsetxattr(
      join(src, 'usr/bin/tool'),
      'security.capability',
      Buffer.from([1, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    );
    const long = 'd'.repeat(120);
    mkdirSync(join(src, long));
    writeFileSync(join(src, long, 'ünïcode-ﬁle'), 'u');
    const tar = await collect(packTree(src));
    const entries = await listTar(tar);
    const names = entries.map((e) => e.name);
    assert.deepEqual(names.slice(0, 4), [`${long}/`, `${long}/ünïcode-ﬁle`, 'dev/', 'dev/null']);
    assert.ok(names.every((n) => !n.startsWith('/') && !n.startsWith('./')));
    assert.equal(entries.find((e) => e.name === 'usr/bin/tool2')?.type, 'link');
    assert.equal(entries.find((e) => e.name === 'usr/bin/tool2')?.linkname, 'usr/bin/tool');
    assert.equal(entries.find((e) => e.name === 'usr/bin/abs')?.linkname, '/usr/bin/tool');
    assert.equal(entries.find((e) => e.name === 'dev/null')?.type, 'character-device');
    const dest = join(t.path, 'dest');
    mkdirSync(dest);
    await applyLayer(readable(tar), dest, { whiteouts: 'naive', sync: false });
    assert.deepEqual(snapshotTree(dest, { seconds: true }), snapshotTree(src, { seconds: true }));
    assert.deepEqual(
      sys.lgetxattr(join(dest, 'usr/bin/tool'), 'security.capability'),
      sys.lgetxattr(join(src, 'usr/bin/tool'), 'security.capability'),
    );
  } finally {
    t.cleanup();
  }
});

test('a stream that is not a tar is an InvalidParameter', async () => {
  const t = tempDir();
  try {
    await assert.rejects(
      applyLayer(readable(Buffer.from('not a tar '.repeat(100))), t.path, { whiteouts: 'naive', sync: false }),
      InvalidParameter,
    );
  } finally {
    t.cleanup();
  }
});

test('headers look like Docker 20.10 writes them: type bits in the mode field, host user names', async () => {
  const t = tempDir();
  try {
    mkdirSync(join(t.path, 'd'));
    writeFileSync(join(t.path, 'd/f'), 'x');
    const tar = await collect(packTree(t.path));
    const field = (off: number, len: number) => tar.toString('latin1', off, off + len).replace(/\0+$/, '');
    assert.equal(field(0, 100), 'd/');
    assert.equal(field(100, 8), '0040755');
    assert.equal(field(257, 8), 'ustar\x0000');
    assert.equal(field(265, 32), 'root');
    assert.equal(field(512 + 100, 8), '0100644');
    assert.equal(tar.length % 512, 0);
    assert.ok(tar.subarray(-1024).equals(Buffer.alloc(1024)));
  } finally {
    t.cleanup();
  }
});
