// A restore or import killed while it swaps a volume's content (old entries out to trash, staged
// ones in): the next start finishes the swap from its journal before tmp/ is emptied, so the
// volume holds exactly the new content, never half the old or half the new. The kill is a
// SIGKILL at a named point (STRATA_CRASH_AT) in a child process doing the real swap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { finishSwaps } from '../../src/backup/swap.js';
import { sweepScratch } from '../../src/system/recovery.js';
import { silentLogger } from '../../src/util/log.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const swapModule = pathToFileURL(path.join(here, '../../src/backup/swap.js')).href;

/** Everything under `dir`: relative path → file content, or '/' for a directory. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        out[r] = '/';
        walk(path.join(d, e.name), r);
      } else out[r] = fs.readFileSync(path.join(d, e.name), 'utf8');
    }
  };
  walk(dir, '');
  return out;
}

for (const point of ['volume-swap-moving-old', 'volume-swap-moving-fresh']) {
  test(`a swap SIGKILLed at ${point} is finished at the next start`, async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-swap-crash-'));
    try {
      const dataRoot = path.join(base, 'root');
      const execRoot = path.join(base, 'exec');
      const dataDir = path.join(dataRoot, 'volumes', 'v', '_data');
      const scratch = path.join(dataRoot, 'tmp', 'volume-backup-x');
      const staged = path.join(scratch, 'staged');
      for (const d of [dataDir, staged, execRoot]) fs.mkdirSync(d, { recursive: true });
      for (const n of ['a', 'b', 'c']) fs.writeFileSync(path.join(dataDir, n), `old ${n}`);
      fs.mkdirSync(path.join(dataDir, 'olddir'));
      fs.writeFileSync(path.join(dataDir, 'olddir', 'f'), 'old f');
      // A new entry named like an old one: the swap must end with the new one.
      for (const n of ['b', 'x', 'y']) fs.writeFileSync(path.join(staged, n), `new ${n}`);
      fs.mkdirSync(path.join(staged, 'newdir'));
      fs.writeFileSync(path.join(staged, 'newdir', 'g'), 'new g');
      const want = tree(staged);

      const r = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { replaceContent } = await import(${JSON.stringify(swapModule)});
           await replaceContent(${JSON.stringify(dataDir)}, ${JSON.stringify(staged)}, ${JSON.stringify(path.join(scratch, 'trash'))});
           console.log('not killed');`,
        ],
        { encoding: 'utf8', env: { ...process.env, STRATA_CRASH_AT: point } },
      );
      assert.equal(r.signal, 'SIGKILL', r.stderr + r.stdout);
      const half = tree(dataDir);
      assert.notDeepEqual(half, want, 'the swap was cut half way');

      // Startup, in the daemon's order.
      assert.deepEqual(await finishSwaps(path.join(dataRoot, 'tmp'), silentLogger), [dataDir]);
      await sweepScratch(dataRoot, execRoot, silentLogger);
      assert.deepEqual(tree(dataDir), want, 'the volume holds exactly the new content');
      assert.deepEqual(fs.readdirSync(path.join(dataRoot, 'tmp')), [], 'and tmp/ is empty');
      assert.deepEqual(await finishSwaps(path.join(dataRoot, 'tmp'), silentLogger), [], 'nothing left to finish');
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
}

test('a swap that ends normally leaves no journal and the new content', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-swap-'));
  try {
    const { replaceContent } = await import('../../src/backup/swap.js');
    const dataDir = path.join(base, 'data');
    const staged = path.join(base, 'scratch', 'staged');
    fs.mkdirSync(dataDir);
    fs.mkdirSync(staged, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'old'), 'o');
    fs.writeFileSync(path.join(staged, 'new'), 'n');
    await replaceContent(dataDir, staged, path.join(base, 'scratch', 'trash'));
    assert.deepEqual(tree(dataDir), { new: 'n' });
    assert.deepEqual(fs.readdirSync(path.join(base, 'scratch')), ['staged']);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
