// A layer applied before its parent existed is committed onto it (Snapshotter.commit's parent):
// overlay2 stacks it like any other layer; vfs, whose snapshots start as copies, refuses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../src/errors.js';
import { makeFixture } from './fixture.js';

test('overlay2: a parentless layer committed onto a parent stacks on it', async () => {
  const fx = await makeFixture('overlay2');
  try {
    assert.equal(fx.sn.appliesApart, true);
    await fx.sn.prepare('extract-base');
    await fx.sn.commit('base', 'extract-base');
    await fx.sn.prepare('extract-top');
    await fx.sn.commit('top', 'extract-top', undefined, 'base');
    const top = await fx.sn.stat('top');
    assert.equal(top.kind, 'committed');
    assert.equal(top.parent, 'base');
    const [m] = await fx.sn.view('v', 'top');
    const lower = m!.options.find((o) => o.startsWith('lowerdir='));
    assert.ok(lower && lower.split(':').length === 2, `two lower layers: ${lower}`);
    // One that already has a parent is refused and stays as it was.
    await fx.sn.prepare('extract-child', 'top');
    await assert.rejects(fx.sn.commit('child', 'extract-child', undefined, 'base'), InvalidParameter);
    assert.equal((await fx.sn.stat('extract-child')).kind, 'active');
    assert.equal((await fx.sn.stat('extract-child')).parent, 'top');
  } finally {
    await fx.close();
  }
});

test('vfs: committing onto a parent is refused and changes nothing', async () => {
  const fx = await makeFixture('vfs');
  try {
    assert.equal(fx.sn.appliesApart, false);
    await fx.sn.prepare('extract-base');
    await fx.sn.commit('base', 'extract-base');
    await fx.sn.prepare('extract-top');
    await assert.rejects(fx.sn.commit('top', 'extract-top', undefined, 'base'), InvalidParameter);
    assert.equal((await fx.sn.stat('extract-top')).kind, 'active');
  } finally {
    await fx.close();
  }
});
