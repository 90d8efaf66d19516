// Sparse entries in layers load with their real content and holes, in each of GNU tar's formats;
// the work one entry or one compressed stream may cause is bounded.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
  ftruncateSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { applyLayer } from '../../src/archive/index.js';
import { decompressStages } from '../../src/archive/compression.js';
import { InvalidParameter } from '../../src/errors.js';
import { tempDir } from './helpers.js';

/** A file of `size` bytes with a few data runs, the rest holes. */
function sparseFile(path: string, size: number, runs: Array<[number, number]>): void {
  const fd = openSync(path, 'w');
  for (const [off, len] of runs) writeSync(fd, Buffer.alloc(len, ((off / 4096) % 251) + 1), 0, len, off);
  ftruncateSync(fd, size);
  closeSync(fd);
}

const FORMATS: Array<[string, string[]]> = [
  ['PAX 1.0', ['--format=posix', '--sparse-version=1.0']],
  ['PAX 0.1', ['--format=posix', '--sparse-version=0.1']],
  ['PAX 0.0', ['--format=posix', '--sparse-version=0.0']],
  ["old GNU 'S'", ['--format=gnu']],
];

test('sparse entries load with their real content, holes left unallocated', async () => {
  const tmp = tempDir();
  const dir = tmp.path;
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    // Three data runs (the old GNU header holds four segments), ending in a hole.
    sparseFile(join(src, 'disk.img'), 64 << 20, [
      [0, 8192],
      [5 << 20, 4096],
      [40 << 20, 12288],
    ]);
    const want = readFileSync(join(src, 'disk.img'));
    for (const [name, args] of FORMATS) {
      const tarFile = join(dir, 'layer.tar');
      execFileSync('tar', ['--create', '--sparse', ...args, `--file=${tarFile}`, '-C', src, 'disk.img']);
      const dest = join(dir, `dest-${name.replace(/\W/g, '')}`);
      mkdirSync(dest);
      const res = await applyLayer(createReadStream(tarFile), dest, { whiteouts: 'naive', sync: false });
      const got = join(dest, 'disk.img');
      assert.equal(statSync(got).size, want.length, name);
      assert.ok(readFileSync(got).equals(want), `${name}: content differs`);
      assert.ok(statSync(got).blocks * 512 < 1 << 20, `${name}: holes were written`);
      assert.equal(res.size, 64 << 20, `${name}: layer size counts the real size`);
    }
  } finally {
    tmp.cleanup();
  }
});

test('a 10 GiB sparse entry costs nothing; a bigger-than-bound or malformed one is refused', async () => {
  const tmp = tempDir();
  const dir = tmp.path;
  try {
    const src = join(dir, 'src');
    mkdirSync(src);
    sparseFile(join(src, 'huge'), 10 * 2 ** 30, [[2 ** 30, 4096]]);
    const tarFile = join(dir, 'huge.tar');
    execFileSync('tar', ['--create', '--sparse', '--format=posix', `--file=${tarFile}`, '-C', src, 'huge']);
    const dest = join(dir, 'dest');
    mkdirSync(dest);
    await applyLayer(createReadStream(tarFile), dest, { whiteouts: 'naive', sync: false });
    assert.equal(statSync(join(dest, 'huge')).size, 10 * 2 ** 30);
    assert.ok(statSync(join(dest, 'huge')).blocks * 512 < 1 << 20);

    // A real size past the bound (2^44, about 17.6 TB), then a map claiming more than the
    // data: same-length edits of real archives, so every other field stays right.
    sparseFile(join(src, 'huge'), 10 ** 13, [[2 ** 30, 4096]]);
    execFileSync('tar', ['--create', '--sparse', '--format=posix', `--file=${tarFile}`, '-C', src, 'huge']);
    const tar = readFileSync(tarFile).toString('latin1');
    const bad = [
      ['real size', tar.replace('GNU.sparse.realsize=10000000000000', 'GNU.sparse.realsize=99999999999999')],
      ['map', tar.replace('\n1073741824\n4096\n', '\n1073741824\n8192\n')],
    ];
    for (const [what, text] of bad) {
      assert.notEqual(text, tar, what);
      const d = join(dir, `bad-${what.replace(/\W/g, '')}`);
      mkdirSync(d);
      await assert.rejects(
        applyLayer(Readable.from([Buffer.from(text, 'latin1')]), d, { whiteouts: 'naive', sync: false }),
        (err: Error) => {
          assert.ok(err instanceof InvalidParameter, `${what}: ${err}`);
          assert.match(err.message, /invalid tar: sparse entry "huge"/);
          return true;
        },
      );
    }

    // An old GNU sparse map longer than its header holds (extension blocks) is refused, not misread.
    sparseFile(join(src, 'many'), 1 << 20, [
      [0, 4096],
      [65536, 4096],
      [131072, 4096],
      [196608, 4096],
      [262144, 4096],
      [327680, 4096],
    ]);
    const gnu = join(dir, 'many.tar');
    execFileSync('tar', ['--create', '--sparse', '--format=gnu', `--file=${gnu}`, '-C', src, 'many']);
    const d = join(dir, 'many');
    mkdirSync(d);
    await assert.rejects(
      applyLayer(createReadStream(gnu), d, { whiteouts: 'naive', sync: false }),
      /invalid tar: sparse entry "many": old GNU sparse maps longer than 4 segments are not supported/,
    );
  } finally {
    tmp.cleanup();
  }
});

test('a compressed stream that expands more than 1000x past 1 GiB is refused', async () => {
  const tmp = tempDir();
  const dir = tmp.path;
  try {
    const bomb = join(dir, 'bomb.zst');
    execFileSync('sh', ['-c', `head -c 2147483648 /dev/zero | zstd -q -19 -o ${bomb}`]);
    assert.ok(statSync(bomb).size < 1 << 20);
    const { stream, stages } = await decompressStages(createReadStream(bomb));
    let out = 0;
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        out += chunk.length;
        cb();
      },
    });
    await assert.rejects(pipeline([stream, ...stages, sink]), (err: Error) => {
      assert.ok(err instanceof InvalidParameter, String(err));
      assert.match(err.message, /zstd stream decompresses to more than 1000 times its size/);
      return true;
    });
    assert.ok(out <= (1 << 30) + (4 << 20), `read on to ${out} bytes`);
    // A real layer's ratio passes.
    const plain = join(dir, 'ok.tar');
    writeFileSync(plain, Buffer.alloc(3 << 20, 'abcdefgh'));
    execFileSync('zstd', ['-q', plain]);
    const ok = await decompressStages(createReadStream(`${plain}.zst`));
    let n = 0;
    await pipeline([
      ok.stream,
      ...ok.stages,
      new Writable({
        write(c: Buffer, _e, cb) {
          n += c.length;
          cb();
        },
      }),
    ]);
    assert.equal(n, 3 << 20);
  } finally {
    tmp.cleanup();
  }
});
