// directoryUsage counts like Docker's directory.Size (apparent sizes of non-directories, a hard
// link once) and never follows a symlink out of the tree; entryStat is the lstat it uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { directoryUsage } from '../../src/snapshot/usage.js';
import { entryStat } from '../../src/native/syscalls.js';

/** What find sees: apparent size of every non-directory and the number of distinct inodes, each inode once. */
function measured(dir: string): { size: number; inodes: number } {
  const seen = new Map<string, number>();
  for (const line of execFileSync('find', [dir, '-printf', '%i %s %y\n'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)) {
    const [ino, size, type] = line.split(' ');
    seen.set(ino!, type === 'd' ? 0 : Number(size));
  }
  return { size: [...seen.values()].reduce((a, b) => a + b, 0), inodes: seen.size };
}

test("sizes and inodes equal find's: hard links once, symlinks by their own size and not followed, sparse files at length", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-usage-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'a/b/c'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'empty'));
  for (let i = 0; i < 2500; i++) fs.writeFileSync(path.join(dir, 'a/b', `f${i}`), 'x'.repeat(i % 97));
  fs.writeFileSync(path.join(dir, 'a/b/c/big'), Buffer.alloc(70_000, 1));
  fs.linkSync(path.join(dir, 'a/b/c/big'), path.join(dir, 'a/hard'));
  fs.symlinkSync('/etc', path.join(dir, 'to-etc'));
  const fd = fs.openSync(path.join(dir, 'sparse'), 'w');
  fs.ftruncateSync(fd, 10_000_000);
  fs.closeSync(fd);
  const u = await directoryUsage(dir);
  assert.deepEqual(u, measured(dir));
  assert.equal(u.size >= 10_070_000, true);
});

test("entryStat: a file, a directory, a hard-linked file's id, and a name that is gone", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-entrystat-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'f'), 'hello');
  fs.linkSync(path.join(dir, 'f'), path.join(dir, 'g'));
  fs.mkdirSync(path.join(dir, 'd'));
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const f = entryStat(fd, 'f')!;
    assert.deepEqual([f.isDirectory, f.nlink, f.size], [false, 2, 5]);
    assert.equal(f.id, entryStat(fd, 'g')!.id);
    assert.match(f.id, /^\d+:\d+:\d+$/);
    assert.equal(entryStat(fd, 'd')!.isDirectory, true);
    assert.equal(entryStat(fd, 'missing'), undefined);
  } finally {
    fs.closeSync(fd);
  }
});

test('a directory swapped for a link to the host while the usage walk runs counts nothing of the host', async () => {
  const layer = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-usage-race-'));
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-usage-host-'));
  // A host tree the walk would find under the link: a 1 TiB (sparse) file, counted at st_size.
  for (let i = 0; i < 50; i++) {
    fs.mkdirSync(path.join(host, `sub${i}`));
    fs.writeFileSync(path.join(host, `sub${i}`, 'secret'), '');
    fs.truncateSync(path.join(host, `sub${i}`, 'secret'), 2 ** 40);
    fs.mkdirSync(path.join(layer, 'a', `sub${i}`), { recursive: true });
    fs.writeFileSync(path.join(layer, 'a', `sub${i}`, 'f'), 'x');
  }
  // The container: `a` goes back and forth between its directory and a link to the host.
  const racer = spawn(
    'python3',
    [
      '-c',
      'import os, sys\nos.chdir(sys.argv[1])\nwhile True:\n  os.rename("a", "a.real"); os.symlink(sys.argv[2], "a"); os.unlink("a"); os.rename("a.real", "a")',
      layer,
      host,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => racer.once('exit', resolve));
  try {
    for (let i = 0; i < 2000; i++) {
      const u = await directoryUsage(layer);
      assert.ok(u.size < 2 ** 40, `walk ${i} counted the host's file: ${u.size}`);
    }
  } finally {
    racer.kill('SIGKILL');
    await exited;
    fs.rmSync(layer, { recursive: true, force: true });
    fs.rmSync(host, { recursive: true, force: true });
  }
});

test('an aborted signal ends a walk at its next directory: it rejects with the reason, not a figure of half the tree', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-usage-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (let d = 0; d < 40; d++) {
    fs.mkdirSync(path.join(dir, `d${d}`));
    for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(dir, `d${d}`, `f${i}`), 'x');
  }
  const done = new AbortController();
  done.abort();
  await assert.rejects(directoryUsage(dir, done.signal), { name: 'AbortError' }, 'aborted before it starts');

  // Called off while it runs: the first slice of entries is walked before the walk yields.
  const walk = new AbortController();
  const reason = new Error('called off');
  const walking = directoryUsage(dir, walk.signal);
  walk.abort(reason);
  await assert.rejects(walking, (err) => err === reason);
  assert.deepEqual(await directoryUsage(dir, new AbortController().signal), { size: 4000, inodes: 4041 });
});
