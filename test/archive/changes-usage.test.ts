// naiveChangesUsage weighs exactly what naiveChanges lists as added or modified (Docker's
// ChangesSize over ChangesDirs), in one walk of the new tree that yields to the event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { naiveChanges, naiveChangesUsage } from '../../src/archive/changes.js';

/** The size the change list itself implies: lstat of every A/C path that is not a directory, a hard link once. */
function sizeOfChanges(upper: string, lower: string): { size: number; inodes: number } {
  const seen = new Set<number>();
  let size = 0;
  let inodes = 0;
  for (const c of naiveChanges(upper, lower)) {
    if (c.Kind === 2) continue;
    const st = fs.lstatSync(path.join(upper, c.Path));
    inodes++;
    if (st.isDirectory()) continue;
    if (st.nlink > 1 && seen.has(st.ino)) continue;
    seen.add(st.ino);
    size += st.size;
  }
  return { size, inodes };
}

test('the usage of a copy against its parent equals the sizes of its listed changes', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-changes-usage-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const lower = path.join(tmp, 'lower');
  const upper = path.join(tmp, 'upper');
  fs.mkdirSync(path.join(lower, 'a/b'), { recursive: true });
  for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(lower, 'a/b', `f${i}`), 'x'.repeat(i % 50));
  fs.writeFileSync(path.join(lower, 'a/keep'), 'k'.repeat(100));
  fs.writeFileSync(path.join(lower, 'gone'), 'g'.repeat(1000));
  fs.symlinkSync('/etc/passwd', path.join(lower, 'link'));
  execFileSync('cp', ['-a', lower, upper]); // as the vfs driver copies: times to the nanosecond

  fs.writeFileSync(path.join(upper, 'a/b/f7'), 'changed content');
  fs.rmSync(path.join(upper, 'gone'));
  fs.mkdirSync(path.join(upper, 'new/deeper'), { recursive: true });
  fs.writeFileSync(path.join(upper, 'new/deeper/n'), Buffer.alloc(4096));
  fs.linkSync(path.join(upper, 'new/deeper/n'), path.join(upper, 'new/hard'));
  fs.rmSync(path.join(upper, 'link'));
  fs.symlinkSync('/somewhere/else/entirely', path.join(upper, 'link'));
  fs.chmodSync(path.join(upper, 'a/keep'), 0o600);

  const got = await naiveChangesUsage(upper, lower);
  assert.equal(got.size, 15 + 4096 + '/somewhere/else/entirely'.length + 100);
  assert.equal(got.size, sizeOfChanges(upper, lower).size);
  assert.equal((await naiveChangesUsage(lower, lower)).size, 0);
});
