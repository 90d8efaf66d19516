import assert from 'node:assert/strict';
import { test } from 'node:test';
import { snapshotterSuite } from './suite.js';
import { makeFixture } from './fixture.js';

snapshotterSuite('vfs');

test('vfs: status and GraphDriver data are what Docker 20.10 shows', async () => {
  const fx = await makeFixture('vfs');
  try {
    assert.equal(fx.sn.driver, 'vfs');
    assert.deepEqual(await fx.sn.status(), []);
    await fx.sn.prepare('a');
    assert.deepEqual(await fx.sn.graphDriverData('a', '/x/merged'), { Name: 'vfs', Data: null });
  } finally {
    await fx.close();
  }
});
