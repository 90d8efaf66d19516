import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  compactOverlayOptions,
  isMountPoint,
  mountAll,
  mountsUnder,
  readMountInfo,
  unmount,
} from '../../src/mount/kernel.js';

async function withTmp(fn: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-kernel-'));
  try {
    await fn(tmp);
    assert.deepEqual(
      (await mountsUnder(tmp)).map((m) => m.mountPoint),
      [],
      'mounts left behind',
    );
  } finally {
    for (const m of (await mountsUnder(tmp)).reverse()) await unmount(m.mountPoint, { lazy: true });
    await rm(tmp, { recursive: true, force: true });
  }
}

test('compactOverlayOptions leaves short options alone and shortens long ones around their common parent', () => {
  const short = ['index=off', 'lowerdir=/a/1/fs:/a/2/fs', 'upperdir=/a/3/fs', 'workdir=/a/3/work'];
  assert.deepEqual(compactOverlayOptions(short), { options: short });
  const root = '/var/lib/' + 'x'.repeat(60) + '/snapshots/overlay2';
  const lowers = Array.from({ length: 128 }, (_, i) => `${root}/${i + 1}/fs`);
  const long = ['index=off', `lowerdir=${lowers.join(':')}`, `upperdir=${root}/200/fs`, `workdir=${root}/200/work`];
  const out = compactOverlayOptions(long);
  assert.equal(out.cwd, root);
  assert.equal(out.options[1], 'lowerdir=' + lowers.map((_, i) => `${i + 1}/fs`).join(':'));
  assert.deepEqual(out.options.slice(2), ['upperdir=200/fs', 'workdir=200/work']);
  assert.ok(out.options.join(',').length < 4096);
});

test('bind mounts: read-only remount, isMountPoint, double unmount', () =>
  withTmp(async (tmp) => {
    const src = path.join(tmp, 'src');
    const dst = path.join(tmp, 'dst with space');
    await mkdir(src);
    await mkdir(dst);
    await writeFile(path.join(src, 'f'), 'hello');
    assert.equal(await isMountPoint(dst), false);
    await mountAll([{ type: 'bind', source: src, options: ['ro', 'rbind'] }], dst);
    assert.equal(await isMountPoint(dst), true);
    assert.equal(await readFile(path.join(dst, 'f'), 'utf8'), 'hello');
    await assert.rejects(writeFile(path.join(dst, 'f'), 'x'), { code: 'EROFS' });
    await unmount(dst);
    await unmount(dst);
    assert.equal(await isMountPoint(dst), false);
  }));

test('tmpfs with options, stacked mounts and recursive binds all come undone', () =>
  withTmp(async (tmp) => {
    const t = path.join(tmp, 't');
    await mkdir(t);
    await mountAll(
      [
        { type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=0750'] },
        { type: 'tmpfs', source: 'tmpfs', options: ['size=2m'] },
      ],
      t,
    );
    const here = (await readMountInfo()).filter((m) => m.mountPoint === t);
    assert.equal(here.length, 2);
    assert.ok(here.every((m) => m.fsType === 'tmpfs'));
    assert.match(here[0].superOptions, /size=1024k/);
    await mkdir(path.join(t, 'sub'));
    await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: [] }], path.join(t, 'sub'));
    const r = path.join(tmp, 'r');
    await mkdir(r);
    await mountAll([{ type: 'bind', source: t, options: ['rbind'] }], r);
    assert.equal(await isMountPoint(path.join(r, 'sub')), true);
    await unmount(r);
    await unmount(t);
    assert.deepEqual(await mountsUnder(tmp), []);
  }));

test('a failing mount undoes the ones before it', () =>
  withTmp(async (tmp) => {
    const t = path.join(tmp, 't');
    await mkdir(t);
    await assert.rejects(
      mountAll(
        [
          { type: 'tmpfs', source: 'tmpfs', options: [] },
          { type: 'bind', source: path.join(tmp, 'missing'), options: ['rbind'] },
        ],
        t,
      ),
      /mount bind .*missing/,
    );
    assert.equal(await isMountPoint(t), false);
  }));

test('overlay with 140 lowers under a deep path mounts through relative paths', () =>
  withTmp(async (tmp) => {
    const home = path.join(tmp, 'deep'.repeat(10), 'snapshots');
    const lowers: string[] = [];
    for (let i = 1; i <= 140; i++) {
      const d = path.join(home, String(i), 'fs');
      await mkdir(d, { recursive: true });
      await writeFile(path.join(d, 'who'), String(i));
      await writeFile(path.join(d, `only-${i}`), '');
      lowers.unshift(d); // topmost first
    }
    const [upper, work, merged] = ['up/fs', 'up/work', 'merged'].map((n) => path.join(tmp, n));
    for (const d of [upper, work, merged]) await mkdir(d, { recursive: true });
    const options = ['index=off', `lowerdir=${lowers.join(':')}`, `upperdir=${upper}`, `workdir=${work}`];
    assert.ok(options.join(',').length > 4096);
    await mountAll([{ type: 'overlay', source: 'overlay', options }], merged);
    try {
      assert.equal(await readFile(path.join(merged, 'who'), 'utf8'), '140');
      assert.equal(await readFile(path.join(merged, 'only-1'), 'utf8'), '');
      await writeFile(path.join(merged, 'new'), 'n');
      assert.equal(await readFile(path.join(upper, 'new'), 'utf8'), 'n');
    } finally {
      await unmount(merged);
    }
  }));
