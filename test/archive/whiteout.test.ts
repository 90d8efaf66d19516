import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer } from '../../src/archive/index.js';
import { InvalidParameter } from '../../src/errors.js';
import * as sys from '../../src/native/syscalls.js';
import { makeTar, readable, tempDir } from './helpers.js';

function lower(dir: string): void {
  mkdirSync(join(dir, 'a/b/c'), { recursive: true });
  writeFileSync(join(dir, 'a/b/c/bar'), 'bar');
  writeFileSync(join(dir, 'a/keep'), 'k');
  writeFileSync(join(dir, 'file1'), '1');
  mkdirSync(join(dir, 'opq/sub'), { recursive: true });
  writeFileSync(join(dir, 'opq/old'), 'o');
  writeFileSync(join(dir, 'opq/sub/deep'), 'd');
}

const layer = () =>
  makeTar([
    { name: '.wh.file1' },
    { name: 'a/', type: 'directory' },
    { name: 'a/b/.wh.c', uid: 1000, gid: 1000 },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/new', content: 'n' },
    { name: 'opq/.wh..wh..opq' },
  ]);

test('overlay whiteouts become 0/0 character devices and the opaque xattr', async () => {
  const t = tempDir();
  try {
    await applyLayer(readable(await layer()), t.path, { whiteouts: 'overlay', sync: false });
    const f1 = sys.statx(sys.AT_FDCWD, join(t.path, 'file1'));
    assert.equal(f1.mode & sys.S_IFMT, sys.S_IFCHR);
    assert.deepEqual([f1.rdevMajor, f1.rdevMinor, f1.uid], [0, 0, 0]);
    const c = sys.statx(sys.AT_FDCWD, join(t.path, 'a/b/c'));
    assert.equal(c.mode & sys.S_IFMT, sys.S_IFCHR);
    assert.deepEqual([c.uid, c.gid], [1000, 1000]);
    assert.deepEqual(sys.lgetxattr(join(t.path, 'opq'), 'trusted.overlay.opaque'), Buffer.from('y'));
    assert.equal(sys.lgetxattr(join(t.path, 'a'), 'trusted.overlay.opaque'), null);
    assert.deepEqual(readdirSync(join(t.path, 'opq')), ['new']);
    assert.ok(!existsSync(join(t.path, '.wh.file1')));
  } finally {
    t.cleanup();
  }
});

test('naive whiteouts delete, and an opaque whiteout keeps only what this layer wrote', async () => {
  const t = tempDir();
  try {
    lower(t.path);
    await applyLayer(readable(await layer()), t.path, { whiteouts: 'naive', sync: false });
    assert.ok(!existsSync(join(t.path, 'file1')));
    assert.ok(!existsSync(join(t.path, 'a/b/c')));
    assert.ok(existsSync(join(t.path, 'a/keep')));
    assert.deepEqual(readdirSync(join(t.path, 'opq')), ['new']);
    assert.ok(!existsSync(join(t.path, '.wh.file1')));
  } finally {
    t.cleanup();
  }
});

test('the OCI example: an opaque whiteout listed after the new children still keeps them', async () => {
  const t = tempDir();
  try {
    mkdirSync(join(t.path, 'a/b/c'), { recursive: true });
    writeFileSync(join(t.path, 'a/b/c/bar'), 'bar');
    const tar = await makeTar([
      { name: 'a/', type: 'directory' },
      { name: 'a/b/', type: 'directory' },
      { name: 'a/b/c/', type: 'directory' },
      { name: 'a/b/c/foo', content: 'foo' },
      { name: 'a/.wh..wh..opq' },
    ]);
    await applyLayer(readable(tar), t.path, { whiteouts: 'naive', sync: false });
    assert.deepEqual(readdirSync(join(t.path, 'a/b/c')), ['foo']);
  } finally {
    t.cleanup();
  }
});

for (const whiteouts of ['overlay', 'naive'] as const) {
  for (const bad of ['.wh.', 'dir/.wh..', '.wh...']) {
    test(`${whiteouts}: whiteout ${JSON.stringify(bad)} is rejected`, async () => {
      const t = tempDir();
      try {
        const tar = await makeTar([{ name: 'dir/', type: 'directory' }, { name: bad }]);
        await assert.rejects(applyLayer(readable(tar), t.path, { whiteouts, sync: false }), (err: unknown) => {
          assert.ok(err instanceof InvalidParameter);
          assert.match((err as Error).message, /invalid whiteout entry/);
          return true;
        });
      } finally {
        t.cleanup();
      }
    });
  }
}
