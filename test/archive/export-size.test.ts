// The DiffSize exportLayerSized sums from the headers it writes is what measuring a snapshot
// applied from that tar finds (directoryUsage, as `docker system df` and image sizes count):
// files, empty files, symlinks, hardlinks once, whiteouts, an opaque directory, a fifo.
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyLayer, exportLayerSized } from '../../src/archive/index.js';
import * as sys from '../../src/native/syscalls.js';
import { directoryUsage } from '../../src/snapshot/usage.js';
import { tempDir } from './helpers.js';

test('exportLayerSized: its DiffSize is the applied snapshot measured', async () => {
  const t = tempDir('strata-export-size-');
  try {
    const upper = join(t.path, 'upper');
    mkdirSync(join(upper, 'dir/deep'), { recursive: true });
    mkdirSync(join(upper, 'opaque'));
    writeFileSync(join(upper, 'dir/a'), Buffer.alloc(12345, 1));
    writeFileSync(join(upper, 'dir/deep/b'), 'bee');
    writeFileSync(join(upper, 'empty'), '');
    linkSync(join(upper, 'dir/a'), join(upper, 'a-again'));
    symlinkSync('dir/deep/b', join(upper, 'to-b'));
    symlinkSync('/a/target/of/some/length', join(upper, 'dir/abs'));
    sys.mknod(join(upper, 'gone'), sys.S_IFCHR, 0, 0); // a whiteout
    sys.mknod(join(upper, 'fifo'), sys.S_IFIFO | 0o644);
    sys.lsetxattr(join(upper, 'opaque'), 'trusted.overlay.opaque', Buffer.from('y'));
    writeFileSync(join(upper, 'opaque/c'), 'sea');

    const { stream, diffSize } = exportLayerSized({ kind: 'overlay', upper, lowers: [] });
    const applied = join(t.path, 'applied');
    mkdirSync(applied);
    await applyLayer(stream, applied, { whiteouts: 'overlay', sync: false });
    const measured = await directoryUsage(applied);
    const want = 12345 + 3 + 0 + 'dir/deep/b'.length + '/a/target/of/some/length'.length + 3;
    assert.equal(measured.size, want, 'the applied snapshot');
    assert.equal(diffSize(), measured.size);
  } finally {
    t.cleanup();
  }
});
