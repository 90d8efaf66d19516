import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RecentlyFreed } from '../../src/snapshot/spread.js';
import { makeFixture } from './fixture.js';

const onExt = statfsSync(os.tmpdir()).type >>> 0 === 0xef53;

test('RecentlyFreed: a flex group counts as recent for six minutes after a removal in it', () => {
  let now = 1_000_000;
  const freed = new RecentlyFreed(() => now);
  freed.note(5 * 131072 + 17);
  assert.equal(freed.isRecent(5 * 131072 + 1), true);
  assert.equal(freed.isRecent(6 * 131072 + 1), false);
  assert.equal(freed.isRecent(4 * 131072 + 9), false);
  // 360 s: the kernel's window while the inode-table block is dirty
  now += 360_000;
  assert.equal(freed.isRecent(5 * 131072 + 99), true);
  now += 6_000;
  assert.equal(freed.isRecent(5 * 131072 + 99), false);
});

test(
  'a snapshot directory made in a recently emptied flex group is made again elsewhere, and a removal is noted',
  { skip: !onExt && 'needs ext4 under the temp dir' },
  async () => {
    const fx = await makeFixture('overlay2');
    try {
      assert.ok(
        (fx.sn as unknown as { freed?: unknown }).freed instanceof RecentlyFreed,
        'a store on ext tracks its removals',
      );
      const asked: number[] = [];
      const noted: number[] = [];
      // The first two directories made count as landing where a removal just was.
      const stub = {
        isRecent: (ino: number) => asked.push(ino) <= 2,
        note: (ino: number) => void noted.push(ino),
      };
      (fx.sn as unknown as { freed: unknown }).freed = stub;
      await fx.sn.prepare('x');
      const dir = path.dirname((await fx.sn.mounts('x'))[0]!.source);
      const ino = (await stat(dir)).ino;
      assert.equal(asked.length, 3);
      assert.equal(asked[2], ino);
      assert.deepEqual(await readdir(fx.root), [path.basename(dir)], 'the two directories given up are gone');
      await fx.sn.remove('x');
      assert.deepEqual(noted, [ino]);
    } finally {
      await fx.close();
    }
  },
);
