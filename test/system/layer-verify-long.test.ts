// A full check reads each layer's tar with tar-stream's extractor (layer-verify.ts). An empty
// PAX or long-name entry used to make that extractor take the next file's padding and header
// for the empty entry's data; the archive room's reader fixes it (tarstream.ts). The check must
// get the fixed reader itself, not only once some other code has loaded that room: this file
// loads nothing else of it before the check runs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyLayer } from '../../src/system/check/layer-verify.js';
import { ustarFile, ustarHeader } from '../archive/ustar.js';

test('a layer whose tar holds PAX or GNU long-name entries of size 0 checks clean against its files', async () => {
  // The file after the empty entry has padding: a reader that still awaits the empty entry's
  // data takes that padding, and then the next header, for it.
  const tail = [ustarFile('a', 'a'.repeat(700)), ustarFile('b', 'bbb\n'), Buffer.alloc(1024)];
  const cases: Array<[string, Buffer[]]> = [
    ["an 'x' entry of size 0", [ustarHeader('PaxHeaders/a', 'x', 0), ...tail]],
    ["a 'g' entry of size 0", [ustarHeader('pax_global_header', 'g', 0), ...tail]],
  ];
  for (const [what, blocks] of cases) {
    const t = mkdtempSync(join(tmpdir(), 'strata-verify-'));
    try {
      const tar = Buffer.concat(blocks);
      const file = join(t, 'layer.tar');
      writeFileSync(file, tar);
      const dir = join(t, 'fs');
      mkdirSync(dir);
      execFileSync('tar', ['-C', dir, '-xf', file]);
      const diffID = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
      assert.equal(await verifyLayer(file, diffID, dir), undefined, what);
      // And the check still sees a file that differs.
      writeFileSync(join(dir, 'b'), 'changed\n');
      assert.match(String(await verifyLayer(file, diffID, dir)), /^b: /, `${what}: a changed file is found`);
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  }
});
