// A restore or import swapped into a volume that lives on another filesystem than the daemon's
// staging (a volume with a device option) is copied in, not renamed; a forced one runs while
// containers use the volume, and a container can swap any directory of it for a symlink to the
// host while the copy is under way. The copy must keep every file's metadata and write nothing
// outside the volume whatever the container does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { replaceContent } from '../../src/backup/swap.js';
import { allocatedBytes, fillTree, getXattr, manifest, tempDir } from './fixture.js';

/** A volume's _data on a tmpfs of its own: another filesystem than the staging tree's. */
function withOtherFs<T>(fn: (root: string, dataDir: string) => Promise<T>): Promise<T> {
  const root = tempDir('strata-swap-');
  const dataDir = path.join(root, '_data');
  fs.mkdirSync(dataDir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256m', 'tmpfs', dataDir]);
  return fn(root, dataDir).finally(() => {
    execFileSync('umount', [dataDir]);
    fs.rmSync(root, { recursive: true, force: true });
  });
}

test('content swapped into a volume on another filesystem keeps owners, modes, xattrs, hardlinks and symlinks', () =>
  withOtherFs(async (root, dataDir) => {
    const staged = path.join(root, 'staged');
    fs.mkdirSync(staged);
    fillTree(staged, { absoluteLink: true });
    fs.writeFileSync(path.join(dataDir, 'old'), 'replaced');
    fs.mkdirSync(path.join(dataDir, 'old-dir/deeper'), { recursive: true });
    await replaceContent(dataDir, staged, path.join(root, 'trash'), { uid: 33, gid: 34, mode: 0o750 });
    assert.equal(manifest(dataDir), manifest(staged));
    assert.equal(getXattr(path.join(dataDir, 'hello.txt'), 'user.origin'), 'strata');
    assert.equal(fs.statSync(path.join(dataDir, 'hard.txt')).ino, fs.statSync(path.join(dataDir, 'hello.txt')).ino);
    assert.ok(allocatedBytes(path.join(dataDir, 'sparse.img')) < 1 << 20, 'sparse file came back dense');
    const st = fs.statSync(dataDir);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [33, 34, 0o750]);
    assert.equal(fs.existsSync(path.join(root, 'trash')), false);
  }));

test('a container swapping a volume directory for a link to the host during a copy-in writes nothing on the host', () =>
  withOtherFs(async (root, dataDir) => {
    const host = tempDir('strata-swap-host-');
    const staged = path.join(root, 'staged');
    fs.mkdirSync(path.join(staged, 'd'), { recursive: true });
    for (let i = 0; i < 3000; i++) fs.writeFileSync(path.join(staged, 'd', `f${i}`), 'restored\n');
    // The container: as soon as the copy has made d, d goes and a link to the host takes its name.
    const racer = spawn(
      'sh',
      [
        '-c',
        'while :; do if [ -d "$1/d" ] && [ ! -L "$1/d" ]; then mv "$1/d" "$1/moved" && ln -s "$2" "$1/d" && exit 0; fi; done',
        'sh',
        dataDir,
        host,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => racer.once('exit', resolve));
    try {
      await replaceContent(dataDir, staged, path.join(root, 'trash')).catch(() => undefined);
      assert.deepEqual(fs.readdirSync(host), [], 'files of the restore were written on the host');
    } finally {
      racer.kill('SIGKILL');
      await exited;
      fs.rmSync(host, { recursive: true, force: true });
    }
  }));
