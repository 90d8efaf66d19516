// A layer applied into an empty directory counts its disk usage as it is written
// (ApplyOptions.usage): the count must be exactly what a walk of the directory finds, and absent
// wherever the writer alone cannot know it (an entry replaced another, a whiteout was applied).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyLayer } from '../../src/archive/index.js';
import { applyLayer as applyHere } from '../../src/archive/apply.js';
import { directoryUsage } from '../../src/snapshot/usage.js';
import { makeTar, readable, tempDir, type Spec } from './helpers.js';

const every: Spec[] = [
  { name: 'etc/', type: 'directory', mode: 0o755 },
  { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644 },
  // parents never listed: made by the writer on the way
  { name: 'usr/local/bin/tool', content: Buffer.alloc(70_000, 7), mode: 0o4755, uid: 0, gid: 0 },
  { name: 'home/user/file', content: 'hello', mode: 0o600, uid: 1000, gid: 1001 },
  { name: 'empty', content: '' },
  { name: 'usr/bin/python3', type: 'symlink', linkname: '/usr/bin/python3.11' },
  // a symlink's size is its target's bytes, not its characters
  { name: 'usr/bin/ünï', type: 'symlink', linkname: '../../etc/pässwd→' },
  { name: 'usr/local/bin/tool2', type: 'link', linkname: 'usr/local/bin/tool', mode: 0o4755 },
  { name: 'usr/bin/link-to-symlink', type: 'link', linkname: 'usr/bin/python3' },
  { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660 },
  { name: 'run/fifo', type: 'fifo', mode: 0o600 },
  { name: 'withxattr', content: 'x', pax: { 'SCHILY.xattr.user.test': 'value' } },
  { name: './', type: 'directory', mode: 0o755 },
];

for (const [where, apply] of [
  ['on an unpacking thread', applyLayer],
  ['on the calling thread', applyHere],
] as const) {
  test(`usage counted ${where} is what a walk of the layer finds`, async () => {
    const t = tempDir();
    try {
      const res = await apply(readable(await makeTar(every)), t.path, {
        whiteouts: 'overlay',
        sync: false,
        usage: true,
      });
      const walked = await directoryUsage(t.path);
      assert.ok(res.usage, 'counted');
      assert.deepEqual(res.usage, walked);
      // 70000 + 26 + 5 + 1 bytes of files, two symlink targets, each hardlinked inode once
      assert.equal(walked.size, 70_032 + 19 + Buffer.byteLength('../../etc/pässwd→'));
    } finally {
      t.cleanup();
    }
  });
}

test('usage is counted only when asked for', async () => {
  const t = tempDir();
  try {
    const res = await applyLayer(readable(await makeTar(every)), t.path, { whiteouts: 'overlay', sync: false });
    assert.equal(res.usage, undefined);
  } finally {
    t.cleanup();
  }
});

const uncountable: Array<[string, Spec[]]> = [
  [
    'a file written twice',
    [
      { name: 'a', content: 'long first version' },
      { name: 'a', content: 'short' },
    ],
  ],
  [
    'a directory replaced by a file',
    [
      { name: 'd/', type: 'directory' },
      { name: 'd/x', content: 'inside' },
      { name: 'd', content: 'now a file' },
    ],
  ],
  [
    'a file replaced by a directory',
    [
      { name: 'd', content: 'a file' },
      { name: 'd/', type: 'directory' },
    ],
  ],
  [
    'a whiteout',
    [
      { name: 'a', content: 'x' },
      { name: '.wh.gone', content: '' },
    ],
  ],
  [
    'an opaque directory',
    [
      { name: 'd/', type: 'directory' },
      { name: 'd/.wh..wh..opq', content: '' },
    ],
  ],
];

for (const [what, specs] of uncountable) {
  test(`no usage is counted for a layer with ${what}; a walk still measures it`, async () => {
    const t = tempDir();
    try {
      const res = await applyLayer(readable(await makeTar(specs)), t.path, {
        whiteouts: 'overlay',
        sync: false,
        usage: true,
      });
      assert.equal(res.usage, undefined);
      assert.ok((await directoryUsage(t.path)).inodes >= 2);
    } finally {
      t.cleanup();
    }
  });
}

test('a directory listed after its contents made it is counted once', async () => {
  const t = tempDir();
  try {
    const res = await applyLayer(
      readable(
        await makeTar([
          { name: 'a/b/c', content: 'abc' },
          { name: 'a/', type: 'directory', mode: 0o700 },
          { name: 'a/b/', type: 'directory', mode: 0o750 },
        ]),
      ),
      t.path,
      { whiteouts: 'overlay', sync: false, usage: true },
    );
    assert.deepEqual(res.usage, { size: 3, inodes: 4 });
    assert.deepEqual(res.usage, await directoryUsage(t.path));
  } finally {
    t.cleanup();
  }
});
