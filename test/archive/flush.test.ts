// sync: 'files' makes durable what the extraction wrote and nothing else: one fsync per file
// written and per directory that changed, no syncfs; the default is one syncfs and no fsync.
// The calls are counted with strace on a child process that applies the layer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, writeFileSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { makeTar, tempDir } from './helpers.js';

const archiveIndex = fileURLToPath(new URL('../../src/archive/index.js', import.meta.url));
const hasStrace = spawnSync('strace', ['-V']).status === 0;

/** Applies `tarPath` onto `dest` in a child under strace; returns the fsync/syncfs calls it made. */
function tracedApply(dir: string, tarPath: string, dest: string, sync: string): { fsync: number; syncfs: number } {
  const script = join(dir, `apply-${sync}.mjs`);
  writeFileSync(
    script,
    `import fs from 'node:fs';
     const { applyLayer } = await import(${JSON.stringify(archiveIndex)});
     await applyLayer(fs.createReadStream(${JSON.stringify(tarPath)}), ${JSON.stringify(dest)},
       { whiteouts: 'overlay', sync: ${sync === 'files' ? "'files'" : 'true'} });`,
  );
  const trace = join(dir, `trace-${sync}`);
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync,syncfs', '-o', trace, process.execPath, script], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(trace, 'utf8').split('\n');
  return {
    // A call on a pool thread may be split into an '<unfinished ...>' line and a resumed one;
    // node's own fsync of stdout and stderr at exit fails (EINVAL) and is not counted.
    fsync: lines.filter((l) => /\bfsync\(\d+/.test(l) && !/= -1 /.test(l)).length,
    syncfs: lines.filter((l) => /\bsyncfs\(\d+/.test(l) && !/= -1 /.test(l)).length,
  };
}

test(
  "sync: 'files' fsyncs each written file and changed directory, and never syncfs",
  { skip: !hasStrace },
  async () => {
    const t = tempDir();
    try {
      // 30 files in a directory the tar names, 10 in one it only implies (a/deep/er), a symlink,
      // a hardlink and a whiteout: changed directories are '', a, a/deep, a/deep/er and gone.
      const specs = [
        { name: 'a/', type: 'directory' as const, mode: 0o755 },
        ...Array.from({ length: 30 }, (_, i) => ({ name: `a/f${i}`, content: `file ${i}\n` })),
        ...Array.from({ length: 10 }, (_, i) => ({ name: `a/deep/er/g${i}`, content: `deep ${i}\n` })),
        { name: 'link', type: 'symlink' as const, linkname: 'a/f0' },
        { name: 'a/hard', type: 'link' as const, linkname: 'a/f1' },
        { name: 'gone/.wh.old', content: '' },
      ];
      const tarPath = join(t.path, 'layer.tar');
      writeFileSync(tarPath, await makeTar(specs));
      const files = join(t.path, 'files');
      const whole = join(t.path, 'whole');
      mkdirSync(files);
      mkdirSync(whole);

      const perFile = tracedApply(t.path, tarPath, files, 'files');
      assert.deepEqual(perFile, { fsync: 40 + 5, syncfs: 0 });
      const byFs = tracedApply(t.path, tarPath, whole, 'fs');
      assert.deepEqual(byFs, { fsync: 0, syncfs: 1 });

      // The same tree either way.
      const list = (root: string, rel = ''): string[] =>
        readdirSync(join(root, rel))
          .sort()
          .flatMap((n) => {
            const p = rel ? `${rel}/${n}` : n;
            const st = lstatSync(join(root, p));
            const here = `${p} ${st.mode.toString(8)} ${st.size} ${st.nlink}`;
            return st.isDirectory() ? [here, ...list(root, p)] : [here];
          });
      assert.deepEqual(list(files), list(whole));
      assert.equal(readFileSync(join(files, 'a/deep/er/g9'), 'utf8'), 'deep 9\n');
    } finally {
      t.cleanup();
    }
  },
);
