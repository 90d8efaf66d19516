import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { unixPermissions, writeSparse } from '../../src/backup/restorer.js';
import { irreducible, randomPolynomial } from '../../src/backup/restic-init.js';
import { tempDir } from './fixture.js';

test('writeSparse writes every byte and leaves whole zero blocks as holes, at any offset', () => {
  const dir = tempDir();
  try {
    const pieces: Buffer[] = [
      crypto.randomBytes(1000),
      Buffer.alloc(3 << 20),
      crypto.randomBytes(5000),
      Buffer.alloc(4096 * 3 + 17),
      crypto.randomBytes(1),
      Buffer.alloc(2 << 20),
    ];
    const whole = Buffer.concat(pieces);
    const file = path.join(dir, 'f');
    const fd = fs.openSync(file, 'w');
    let offset = 0;
    let end = 0;
    for (const p of pieces) {
      end = Math.max(end, writeSparse(fd, p, offset));
      offset += p.length;
    }
    fs.ftruncateSync(fd, offset);
    fs.closeSync(fd);
    assert.ok(end <= offset);
    assert.ok(fs.readFileSync(file).equals(whole));
    assert.ok(fs.statSync(file).blocks * 512 < 64 << 10, `allocated ${fs.statSync(file).blocks * 512} bytes`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('Go file modes map to Unix permission bits', () => {
  assert.equal(unixPermissions(0o644), 0o644);
  assert.equal(unixPermissions(2147484141), 0o755, 'a directory (os.ModeDir | 0755)');
  assert.equal(unixPermissions((1 << 23) | 0o755), 0o4755);
  assert.equal(unixPermissions((1 << 22) | 0o750), 0o2750);
  assert.equal(unixPermissions(2147483648 | (1 << 20) | 0o777), 0o1777);
});

test('chunker polynomials are irreducible of degree 53', () => {
  assert.equal(irreducible(0x3da3358b4dc173n), true, "restic's documented example");
  assert.equal(irreducible(0x3da3358b4dc173n * 3n), false);
  const p = randomPolynomial();
  assert.equal(p.toString(2).length, 54);
  assert.equal(irreducible(p), true);
});
