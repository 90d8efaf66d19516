import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chooseDriver } from '../../src/snapshot/index.js';
import { mountAll, mountsUnder, unmount } from '../../src/mount/kernel.js';
import { silentLogger, type Logger } from '../../src/util/log.js';

test('chooseDriver picks overlay2 on this ext4 machine and leaves no probe behind', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-choose-'));
  try {
    assert.equal(await chooseDriver(tmp, silentLogger), 'overlay2');
    assert.deepEqual(await readdir(path.join(tmp, 'snapshots')), []);
    assert.deepEqual(await mountsUnder(tmp), []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('chooseDriver falls back to vfs where overlayfs cannot be the upper filesystem, saying why', async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'strata-choose-'));
  const root = path.join(tmp, 'ovl');
  try {
    for (const d of ['lower', 'upper', 'work', 'ovl']) await mkdir(path.join(tmp, d));
    const opts = [
      'lowerdir=' + path.join(tmp, 'lower'),
      'upperdir=' + path.join(tmp, 'upper'),
      'workdir=' + path.join(tmp, 'work'),
    ];
    await mountAll([{ type: 'overlay', source: 'overlay', options: opts }], root);
    try {
      const warnings: string[] = [];
      const log: Logger = { ...silentLogger, warn: (m) => void warnings.push(m) };
      assert.equal(await chooseDriver(path.join(root, 'data'), log), 'vfs');
      assert.match(warnings[0] ?? '', /^overlay2: /);
      assert.match(warnings[0] ?? '', /overlayfs filesystem/);
    } finally {
      await unmount(root);
    }
    assert.deepEqual(await mountsUnder(tmp), []);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
