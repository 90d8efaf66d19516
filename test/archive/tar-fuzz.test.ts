// Mutated archives through the tar reader and the confined writer, as layer apply and volume
// import use them: every case ends (no hang), either applies or fails with InvalidParameter
// (no crash), writes nothing outside its scratch directory and leaks no descriptor.
// Deterministic: the same seed gives the same 2000 cases.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  ftruncateSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { applyLayer, extractUntrusted } from '../../src/archive/index.js';
import { InvalidParameter } from '../../src/errors.js';
import { makeTar, tempDir } from './helpers.js';
import { prng } from '../helpers/prng.js';

const CASES = 2000;
/** Generous: a case takes milliseconds; this only tells a hang from slowness. */
const HANG_MS = 30_000;

function fixChecksum(buf: Buffer, off: number): void {
  if (off + 512 > buf.length) return;
  buf.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = off; i < off + 512; i++) sum += buf[i]!;
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', off + 148, 'latin1');
}

/** Offsets of the 512-byte blocks that look like headers (ustar magic). */
function headerOffsets(tar: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off + 512 <= tar.length; off += 512)
    if (tar.toString('latin1', off + 257, off + 262) === 'ustar') out.push(off);
  return out;
}

function mutate(seed: Buffer, rnd: () => number): Buffer {
  const pick = (n: number) => Math.floor(rnd() * n);
  const tar = Buffer.from(seed);
  const heads = headerOffsets(tar);
  const h = heads.length ? heads[pick(heads.length)]! : 0;
  switch (pick(8)) {
    case 0: // random bytes anywhere in a header, checksum kept right so the parser reads on
      for (let i = 0, n = 1 + pick(6); i < n; i++) tar[h + pick(512)] = pick(256);
      fixChecksum(tar, h);
      return tar;
    case 1: {
      // a size field rewritten
      const sizes = [0, 1, 511, 512, 513, 1536, 1 << 20, 0o77777777777, pick(100000)];
      tar.write(sizes[pick(sizes.length)]!.toString(8).padStart(11, '0') + '\0', h + 124, 'latin1');
      fixChecksum(tar, h);
      return tar;
    }
    case 2: // a type flag changed
      tar[h + 156] = '0123456789xgLKSDV'.charCodeAt(pick(17));
      fixChecksum(tar, h);
      return tar;
    case 3: // a broken checksum
      tar[h + 148 + pick(8)] = pick(256);
      return tar;
    case 4: // truncated
      return tar.subarray(0, pick(tar.length));
    case 5: {
      // a block repeated or dropped
      const b = pick(Math.max(1, tar.length / 512)) * 512;
      return rnd() < 0.5
        ? Buffer.concat([tar.subarray(0, b), tar.subarray(b, b + 512), tar.subarray(b)])
        : Buffer.concat([tar.subarray(0, b), tar.subarray(b + 512)]);
    }
    case 6: // random bytes in the data and PAX records
      for (let i = 0, n = 1 + pick(16); i < n; i++) tar[pick(tar.length)] = pick(256);
      return tar;
    default: {
      // names and link names pointed at hostile places
      const names = ['../../x', '/etc/passwd', 'a/../../b', '.', '..', 'l/x', 'x'.repeat(100), '/', 'sub/', 'dev/'];
      const name = names[pick(names.length)]!;
      tar.fill(0, h + (rnd() < 0.5 ? 0 : 157), h + (rnd() < 0.5 ? 100 : 257));
      tar.write(name, h + (rnd() < 0.5 ? 0 : 157), 'latin1');
      fixChecksum(tar, h);
      return tar;
    }
  }
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

test('2000 mutated archives: no crash, no hang, nothing outside, no descriptor leaked', async () => {
  const tmp = tempDir();
  try {
    const work = join(tmp.path, 'work');
    mkdirSync(work);
    const src = join(tmp.path, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub/a.txt'), 'hello '.repeat(300));
    const fd = openSync(join(src, 'sparse'), 'w');
    writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 1 << 20);
    ftruncateSync(fd, 3 << 20);
    closeSync(fd);
    const gnuTar = (args: string[]) =>
      execFileSync('tar', ['--create', '--sparse', ...args, '--file=-', '-C', src, '.'], { maxBuffer: 64 << 20 });
    const seeds: Buffer[] = [
      await makeTar([
        { name: 'dir/', type: 'directory' },
        {
          name: 'dir/file',
          content: 'content'.repeat(100),
          pax: { 'SCHILY.xattr.user.x': 'v', mtime: '1600000000.5' },
        },
        { name: 'dir/link', type: 'symlink', linkname: 'file' },
        { name: 'hard', type: 'link', linkname: 'dir/file' },
        { name: 'fifo', type: 'fifo' },
        { name: 'dir/.wh.gone', content: '' },
        { name: 'x'.repeat(150), content: 'long name' },
      ]),
      gnuTar(['--format=posix']),
      gnuTar(['--format=gnu']),
      gnuTar(['--format=posix', '--sparse-version=0.1']),
    ];
    seeds.push(gzipSync(seeds[0]!));
    const rnd = prng(0x5eed);
    const outcomes = { applied: 0, refused: 0 };
    // Warm up lazily loaded modules (zstd, koffi functions) before counting descriptors.
    await applyLayer(Readable.from([seeds[0]!]), (mkdirSync(join(work, 'warm')), join(work, 'warm')), {
      whiteouts: 'naive',
      sync: false,
    });
    rmSync(join(work, 'warm'), { recursive: true });
    const fdsBefore = fdCount();
    for (let i = 0; i < CASES; i++) {
      const seed = seeds[i % seeds.length]!;
      const input = i % seeds.length === 4 ? gzipSync(mutate(seeds[0]!, rnd)) : mutate(seed, rnd);
      const scratch = join(work, 'case');
      mkdirSync(scratch);
      const run =
        i % 2 === 0
          ? applyLayer(Readable.from([input]), scratch, { whiteouts: 'naive', sync: false })
          : extractUntrusted(Readable.from([input]), scratch);
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<'hang'>((resolve) => {
        timer = setTimeout(() => resolve('hang'), HANG_MS);
      });
      const result = await Promise.race([
        run.then(
          () => 'ok' as const,
          (err: unknown) => err,
        ),
        hang,
      ]);
      clearTimeout(timer);
      if (result === 'hang') assert.fail(`case ${i} did not finish (input ${input.toString('base64')})`);
      if (result === 'ok') outcomes.applied++;
      else {
        assert.ok(
          result instanceof InvalidParameter,
          `case ${i}: ${(result as Error)?.stack ?? String(result)} (input ${input.toString('base64')})`,
        );
        outcomes.refused++;
      }
      // Everything written is inside the scratch directory.
      assert.deepEqual(readdirSync(work), ['case'], `case ${i} wrote beside its scratch directory`);
      rmSync(scratch, { recursive: true, force: true });
    }
    // A leak adds descriptors; fewer is fine (handles of earlier tests closing behind them).
    const fdsAfter = fdCount();
    assert.ok(fdsAfter <= fdsBefore, `descriptors leaked: ${fdsBefore} before, ${fdsAfter} after`);
    // Both outcomes occur, or the mutations test nothing.
    assert.ok(outcomes.applied > 100 && outcomes.refused > 100, JSON.stringify(outcomes));
    assert.deepEqual(readdirSync(tmp.path).sort(), ['src', 'work']);
    assert.equal(readFileSync(join(src, 'sub/a.txt'), 'utf8'), 'hello '.repeat(300));
  } finally {
    tmp.cleanup();
  }
});
