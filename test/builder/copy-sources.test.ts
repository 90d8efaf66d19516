// COPY sources inside the context: escapes refused, symlinks resolved inside it, wildcards,
// and the content hash that keys the cache.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { globToRegExp, resolveSources, sourcesHash } from '../../src/builder/copy-sources.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-copysrc-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
fs.mkdirSync(path.join(root, 'dir/sub'), { recursive: true });
fs.writeFileSync(path.join(root, 'a.py'), 'print(1)\n');
fs.writeFileSync(path.join(root, 'b.py'), 'print(2)\n');
fs.writeFileSync(path.join(root, 'dir/sub/c.txt'), 'c\n');
fs.symlinkSync('/etc/hostname', path.join(root, 'out-link'));
fs.symlinkSync('a.py', path.join(root, 'in-link'));

test('a path climbing out of the context is forbidden', () => {
  assert.throws(() => resolveSources(root, ['../x']), /^.*forbidden path outside the build context: \.\.\/x \(\)$/);
  assert.throws(() => resolveSources(root, ['dir/../../x']), /forbidden path outside the build context/);
});

test('symlinks resolve inside the context, never to the host', () => {
  assert.throws(
    () => resolveSources(root, ['out-link']),
    /file not found in build context or excluded by \.dockerignore: stat out-link: file does not exist/,
  );
  const [s] = resolveSources(root, ['in-link']);
  assert.equal(s!.host, path.join(root, 'a.py'));
});

test('wildcards match like filepath.Match, one path level at a time', () => {
  assert.deepEqual(
    resolveSources(root, ['*.py']).map((s) => s.rel),
    ['a.py', 'b.py'],
  );
  assert.equal(globToRegExp('dir/*').test('dir/sub/c.txt'), false);
  assert.throws(() => resolveSources(root, ['*.none']), /no source files were specified/);
});

test('the hash follows content and mode, not modification time', () => {
  const before = sourcesHash(resolveSources(root, ['a.py']));
  assert.match(before, /^file:[0-9a-f]{64}$/);
  const t = new Date(Date.now() + 100_000);
  fs.utimesSync(path.join(root, 'a.py'), t, t);
  assert.equal(sourcesHash(resolveSources(root, ['a.py'])), before);
  fs.chmodSync(path.join(root, 'a.py'), 0o600);
  assert.notEqual(sourcesHash(resolveSources(root, ['a.py'])), before);
  fs.writeFileSync(path.join(root, 'dir/sub/c.txt'), 'changed\n');
  const dir = sourcesHash(resolveSources(root, ['dir']));
  assert.match(dir, /^dir:[0-9a-f]{64}$/);
  fs.writeFileSync(path.join(root, 'dir/sub/c.txt'), 'c\n');
  assert.notEqual(sourcesHash(resolveSources(root, ['dir'])), dir);
  assert.match(sourcesHash(resolveSources(root, ['a.py', 'b.py'])), /^multi:[0-9a-f]{64}$/);
});
