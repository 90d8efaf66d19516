// The fuse-overlayfs driver passes the snapshotter conformance suite on this machine's ext4 and
// on a data-root where the kernel refuses overlayfs as the upper layer (overlayfs itself), the
// case it stands in for overlay2; and a layer with whiteouts applies and reads back there.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { snapshotterSuite, layer } from './suite.js';
import { makeFixture } from './fixture.js';
import { mountAll, mountsUnder, unmount } from '../../src/mount/kernel.js';
import { applyLayer, computeChanges } from '../../src/archive/index.js';
import { makeTar } from '../image/fixture-archive.js';

let nested = '';
let merged = '';
before(async () => {
  nested = await mkdtemp(path.join(os.tmpdir(), 'strata-nested-'));
  for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(path.join(nested, d));
  merged = path.join(nested, 'merged');
  const opts = ['lower', 'upper', 'work'].map((d) => `${d}dir=${path.join(nested, d)}`);
  await mountAll([{ type: 'overlay', source: 'overlay', options: opts }], merged);
});
after(async () => {
  await unmount(merged, { lazy: true });
  const left = await mountsUnder(nested);
  await rm(nested, { recursive: true, force: true });
  assert.deepEqual(left, []);
});

snapshotterSuite('fuse-overlayfs');
snapshotterSuite('fuse-overlayfs', { base: () => merged, label: 'fuse-overlayfs on overlayfs' });

test('fuse-overlayfs on overlayfs: a layer tar with whiteouts applies as .wh. files and hides the lower files; docker diff reads them', async () => {
  const fx = await makeFixture('fuse-overlayfs', { base: () => merged });
  try {
    assert.equal((await stat(fx.root)).dev, (await stat(merged)).dev, 'the data-root is on the overlay');
    await layer(fx, 'sha256:l1', undefined, async (d) => {
      await mkdir(path.join(d, 'dir'));
      for (const f of ['gone', 'keep', 'dir/old']) await writeFile(path.join(d, f), f);
    });
    await fx.sn.prepare('extract-l2', 'sha256:l1');
    const target = await fx.sn.applyTarget('extract-l2');
    const tar = await makeTar([
      { name: '.wh.gone', data: '' },
      { name: 'dir/', type: 'directory' },
      { name: 'dir/.wh..wh..opq', data: '' },
      { name: 'dir/new', data: 'new' },
    ]);
    await applyLayer(Readable.from(tar), target.dir, { whiteouts: target.whiteouts });
    await fx.sn.commit('sha256:l2', 'extract-l2');
    await fx.withMount(await fx.sn.view('v', 'sha256:l2'), async (d) => {
      assert.deepEqual((await readdir(d)).sort(), ['dir', 'keep']);
      assert.deepEqual(await readdir(path.join(d, 'dir')), ['new']);
    });
    await fx.sn.remove('v');

    // A container on it deletes and adds through fuse-overlayfs, which writes .wh. files here:
    // docker diff lists deletions, not those files, and nothing of the layers below.
    await fx.withMount(await fx.sn.prepare('container-x', 'sha256:l2'), async (d) => {
      await rm(path.join(d, 'keep'));
      await rm(path.join(d, 'dir', 'new'));
      await writeFile(path.join(d, 'fresh'), 'fresh');
    });
    const changes = await computeChanges(await fx.sn.diffSource('container-x'));
    assert.deepEqual(changes.map((c) => `${'CAD'[c.Kind]} ${c.Path}`).sort(), [
      'A /fresh',
      'C /dir',
      'D /dir/new',
      'D /keep',
    ]);
  } finally {
    await fx.close();
  }
});
