import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { volumeFingerprint } from '../../src/backup/unchanged.js';

test('the volume fingerprint counts regular files and moves with any metadata change', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fingerprint-'));
  try {
    fs.mkdirSync(path.join(dir, 'a/b'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a/one'), 'one');
    fs.writeFileSync(path.join(dir, 'a/b/two\nlines'), 'two');
    fs.symlinkSync('one', path.join(dir, 'a/link'));
    const first = await volumeFingerprint(dir);
    assert.equal(first.files, 2);
    assert.match(first.digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(await volumeFingerprint(dir), first, 'stable while nothing changes');

    const seen = new Set([first.digest]);
    const changes: [string, () => void][] = [
      ['chmod', () => fs.chmodSync(path.join(dir, 'a/one'), 0o600)],
      ['chown', () => fs.chownSync(path.join(dir, 'a/one'), 1, 1)],
      ['rename', () => fs.renameSync(path.join(dir, 'a/one'), path.join(dir, 'a/uno'))],
      ['root mode', () => fs.chmodSync(dir, 0o711)],
      ['new file', () => fs.writeFileSync(path.join(dir, 'a/b/three'), '')],
    ];
    for (const [what, change] of changes) {
      change();
      const now = await volumeFingerprint(dir);
      assert.ok(!seen.has(now.digest), `${what} changes the fingerprint`);
      seen.add(now.digest);
    }
    assert.equal((await volumeFingerprint(dir)).files, 3);
    await assert.rejects(volumeFingerprint(path.join(dir, 'missing')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
