import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { snapshotterSuite, layer } from './suite.js';
import { makeFixture } from './fixture.js';

snapshotterSuite('overlay2');

test('overlay2: DriverStatus names the backing filesystem as Docker does (extfs for ext4)', async () => {
  const fx = await makeFixture('overlay2');
  try {
    assert.equal(fx.sn.driver, 'overlay2');
    // coreutils calls ext4 "ext2/ext3"; Docker calls the whole family "extfs".
    const coreutilsName = execFileSync('stat', ['-f', '-c', '%T', fx.root], { encoding: 'utf8' }).trim();
    const expected = coreutilsName === 'ext2/ext3' ? 'extfs' : coreutilsName;
    assert.deepEqual(await fx.sn.status(), [
      ['Backing Filesystem', expected],
      ['Supports d_type', 'true'],
      ['Using metacopy', 'false'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ]);
  } finally {
    await fx.close();
  }
});

test('overlay2: mounts follow containerd (bind where no overlay is needed)', async () => {
  const fx = await makeFixture('overlay2');
  try {
    const base = await fx.sn.prepare('extract-base');
    assert.equal(base.length, 1);
    assert.equal(base[0].type, 'bind');
    assert.deepEqual(base[0].options, ['rw', 'rbind']);
    await fx.sn.commit('base', 'extract-base');
    const [one] = await fx.sn.view('v1', 'base');
    assert.deepEqual(one.options, ['ro', 'rbind']);
    await layer(fx, 'top', 'base', async () => {});
    const [two] = await fx.sn.view('v2', 'top');
    assert.equal(two.type, 'overlay');
    assert.deepEqual(
      two.options.map((o) => o.split('=')[0]),
      ['index', 'lowerdir'],
    );
    const [rw] = await fx.sn.prepare('container-1', 'top');
    assert.deepEqual(
      rw.options.map((o) => o.split('=')[0]),
      ['index', 'lowerdir', 'upperdir', 'workdir'],
    );
    const lowers = rw.options[1].slice('lowerdir='.length).split(':');
    const diff = await fx.sn.diffSource('container-1');
    assert.deepEqual(diff, { kind: 'overlay', upper: rw.options[2].slice('upperdir='.length), lowers });
    const top = await fx.sn.diffSource('top');
    assert.ok(top.kind === 'overlay');
    assert.deepEqual(top.lowers, [lowers[1]]);
    assert.equal(top.upper, lowers[0]);
  } finally {
    await fx.close();
  }
});

test('overlay2: GraphDriver data has Docker 20.10 shape for images and containers', async () => {
  const fx = await makeFixture('overlay2');
  try {
    await layer(fx, 'l1', undefined, async () => {});
    await layer(fx, 'l2', 'l1', async () => {});
    await fx.sn.prepare('container-1', 'l2');
    const l1 = await fx.sn.graphDriverData('l1');
    assert.equal(l1.Name, 'overlay2');
    assert.deepEqual(Object.keys(l1.Data!), ['MergedDir', 'UpperDir', 'WorkDir']);
    const dir1 = path.dirname(l1.Data!.UpperDir);
    assert.deepEqual(l1.Data, { MergedDir: `${dir1}/merged`, UpperDir: `${dir1}/fs`, WorkDir: `${dir1}/work` });
    const l2 = await fx.sn.graphDriverData('l2');
    assert.equal(l2.Data!.LowerDir, `${dir1}/fs`);
    const c = await fx.sn.graphDriverData('container-1', '/containers/abc/merged');
    assert.deepEqual(Object.keys(c.Data!), ['LowerDir', 'MergedDir', 'UpperDir', 'WorkDir']);
    assert.equal(c.Data!.LowerDir, `${l2.Data!.UpperDir}:${dir1}/fs`);
    assert.equal(c.Data!.MergedDir, '/containers/abc/merged');
  } finally {
    await fx.close();
  }
});
