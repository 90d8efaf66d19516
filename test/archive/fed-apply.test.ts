// A plain layer fed in batches (FedApply, what the unpacking thread runs for a load or a pull)
// applies exactly as the streaming applier does, however its bytes are cut into batches, even
// when each batch is overwritten as soon as it has been taken: the same files, the same result
// and tar-split record (which gives the tar back byte for byte), the same errors, the same spill.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { applyLayer as applyStreamed } from '../../src/archive/apply.js';
import { FedApply } from '../../src/archive/fed-apply.js';
import { applyLayer as applyOffThread } from '../../src/archive/index.js';
import { rebuildLayer } from '../../src/archive/tar-rebuild.js';
import type { ApplyOptions, ApplyResult } from '../../src/archive/types.js';
import * as sys from '../../src/native/syscalls.js';
import { collect, makeTar, tempDir } from './helpers.js';
import { headerChecksum, ustarFile, ustarHeader } from './ustar.js';

/** Applies `tar` through FedApply in batches of the given sizes (cycled), scribbling over each batch once taken. */
async function applyFed(tar: Buffer, dir: string, opts: ApplyOptions, sizes: number[]): Promise<ApplyResult> {
  const apply = new FedApply(dir, opts);
  try {
    for (let off = 0, i = 0; off < tar.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, tar.length - off);
      const batch = Buffer.from(tar.subarray(off, off + n));
      off += n;
      await apply.feed(batch);
      batch.fill(0xa5); // the batch goes back to be filled again: nothing may still read it
    }
  } catch (err) {
    apply.close();
    throw err;
  }
  return apply.finish();
}

/** A tree as comparable lines: type, mode, owner, size, times, full content digest, link target, xattrs. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(dir, r);
      const st = lstatSync(p, { bigint: true });
      let extra = '';
      if (st.isSymbolicLink()) extra = `-> ${readlinkSync(p)}`;
      else if (st.isFile()) extra = createHash('sha256').update(readFileSync(p)).digest('hex');
      else if (st.isCharacterDevice() || st.isBlockDevice()) extra = `dev ${st.rdev}`;
      let xattrs = '';
      if (!st.isSymbolicLink()) {
        for (const k of ['user.note', 'trusted.overlay.opaque']) {
          const v = sys.lgetxattr(p, k);
          if (v) xattrs += ` ${k}=${v.toString('hex')}`;
        }
      }
      // A whiteout device is made now, with no time of the tar's.
      const mtime = st.isCharacterDevice() && st.rdev === 0n ? '-' : st.mtimeNs;
      out.push(
        `${r} ${st.mode.toString(8)} ${st.uid}:${st.gid} nlink=${st.nlink} ${st.isDirectory() ? '-' : st.size} ${mtime} ${extra}${xattrs}`,
      );
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

function gunzipRecord(r: ApplyResult): Buffer | undefined {
  return r.record ? Buffer.from(r.record) : undefined;
}

/** Applies `tar` both ways into fresh dirs; returns both outcomes (result or error message) and trees. */
async function both(
  tar: Buffer,
  opts: ApplyOptions,
  sizes: number[],
): Promise<{ fed: ApplyResult | string; streamed: ApplyResult | string; fedTree: string[]; streamedTree: string[] }> {
  const a = tempDir();
  const b = tempDir();
  try {
    const fed = await applyFed(tar, a.path, opts, sizes).catch((e: Error) => `${e.name}: ${e.message}`);
    const streamed = await applyStreamed(Readable.from([tar]), b.path, opts).catch(
      (e: Error) => `${e.name}: ${e.message}`,
    );
    return { fed, streamed, fedTree: tree(a.path), streamedTree: tree(b.path) };
  } finally {
    a.cleanup();
    b.cleanup();
  }
}

const SIZES: number[][] = [[1 << 20], [1], [511], [513], [7, 1000, 512, 3], [100_000]];

/** A layer with PAX records, long names, every entry type, an xattr, whiteouts and zeros after its trailer. */
async function richTar(): Promise<Buffer> {
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
  const tar = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hello', content: 'hello\n' },
    { name: 'etc/hello-link', type: 'link', linkname: 'etc/hello' },
    { name: 'link', type: 'symlink', linkname: '/etc/hello' },
    { name: `${'d'.repeat(120)}/`, type: 'directory' },
    { name: long, content: Buffer.alloc(3000, 7) },
    { name: 'cap', content: 'with an xattr', pax: { 'SCHILY.xattr.user.note': 'v\x01\x02', mtime: '1600000000.25' } },
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660 },
    { name: 'fifo', type: 'fifo' },
    { name: 'empty' },
    { name: 'setuid', content: '#!/bin/sh\n', mode: 0o4755, uid: 1000, gid: 1000 },
    { name: 'old/', type: 'directory' },
    { name: 'old/.wh..wh..opq' },
    { name: 'old/y', content: 'y\n' },
    { name: '.wh.gone' },
    { name: 'big', content: Buffer.alloc((1 << 20) + 777, 3) },
    { name: 'after-big', content: 'x'.repeat(700) },
  ]);
  return Buffer.concat([tar, Buffer.alloc(4608)]);
}

/** A tar GNU tar writes in its own format: 'L' / 'K' long names, and a sparse file. */
function gnuTar(format: string): Buffer {
  const t = tempDir();
  try {
    const src = join(t.path, 'src');
    const deep = join(src, 'l'.repeat(90), 'm'.repeat(90));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'n'.repeat(120)), 'long name\n');
    execFileSync('ln', ['-s', join('..', 't'.repeat(150)), join(src, 'longlink')]);
    const fd = openSync(join(src, 'sparse'), 'w');
    writeSync(fd, Buffer.alloc(5000, 1), 0, 5000, 1 << 20);
    ftruncateSync(fd, 3 << 20);
    closeSync(fd);
    const out = join(t.path, 'x.tar');
    execFileSync('tar', ['-C', src, `--format=${format}`, '-S', '--numeric-owner', '-cf', out, '.']);
    return readFileSync(out);
  } finally {
    t.cleanup();
  }
}

test('a rich layer applies the same fed in any batches as streamed, and its record gives it back', async () => {
  const tar = await richTar();
  const opts: ApplyOptions = { whiteouts: 'overlay', record: true, usage: true, sync: false };
  for (const sizes of SIZES) {
    const r = await both(tar, opts, sizes);
    assert.equal(typeof r.fed, 'object', `fed in ${sizes}: ${String(r.fed)}`);
    const fed = r.fed as ApplyResult;
    const streamed = r.streamed as ApplyResult;
    assert.deepEqual(r.fedTree, r.streamedTree, `trees, fed in ${sizes}`);
    assert.ok(r.fedTree.some((l) => l.startsWith('dev/null ') && l.includes('dev ')));
    assert.ok(r.fedTree.some((l) => l.startsWith('cap ') && l.includes('user.note=760102')));
    assert.ok(
      r.fedTree.some((l) => l.startsWith('gone ') && l.includes('dev 0')),
      'whiteout as a 0/0 device',
    );
    const { record: fr, ...fedRest } = fed;
    const { record: sr, ...streamedRest } = streamed;
    assert.deepEqual(fedRest, streamedRest, `results, fed in ${sizes}`);
    assert.equal(fed.diffID, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
    assert.equal(fed.tarSize, tar.length);
    assert.ok(fr && sr, 'both recorded');
    assert.deepEqual(gunzipRecord(fed), gunzipRecord(streamed), `records, fed in ${sizes}`);
  }
  // The record rebuilds the tar from the fed tree byte for byte.
  const d = tempDir();
  try {
    const res = await applyFed(tar, d.path, opts, [513]);
    const back = await collect(rebuildLayer(Buffer.from(res.record!), d.path, res.diffID));
    assert.ok(back.equals(tar), 'the tar given back byte for byte');
  } finally {
    d.cleanup();
  }
});

for (const format of ['gnu', 'posix']) {
  test(`GNU tar's ${format} format (long names, sparse) applies the same fed as streamed`, async () => {
    const tar = gnuTar(format);
    if (format === 'gnu') assert.ok(tar.includes(Buffer.from('././@LongLink')), "the tar has GNU 'L' entries");
    const opts: ApplyOptions = { whiteouts: 'overlay', record: true, sync: false };
    for (const sizes of [[1 << 20], [1], [511], [7, 1000, 512, 3]]) {
      const r = await both(tar, opts, sizes);
      assert.equal(typeof r.fed, 'object', `fed in ${sizes}: ${String(r.fed)}`);
      assert.deepEqual(r.fedTree, r.streamedTree, `trees, fed in ${sizes}`);
      assert.ok(
        r.fedTree.some((l) => l.startsWith('sparse ') && l.includes(` ${3 << 20} `)),
        'the sparse file',
      );
      assert.ok(
        r.fedTree.some((l) => l.includes('n'.repeat(120))),
        'the long name',
      );
      const { record: _f, ...fedRest } = r.fed as ApplyResult;
      const { record: _s, ...streamedRest } = r.streamed as ApplyResult;
      assert.deepEqual(fedRest, streamedRest);
      // Sparse entries leave the record unfaithful, the same way.
      assert.match(String((r.fed as ApplyResult).unfaithful), /sparse|type "S"/);
    }
  });
}

test('broken layers fail fed with the streaming applier error, batch boundaries anywhere', async () => {
  const good = await makeTar([
    { name: 'a', content: 'a'.repeat(2000) },
    { name: 'b', content: 'b' },
  ]);
  const badSum = Buffer.from(good);
  badSum[512 + 2048 + 10] ^= 0xff; // b's header (after a's header and 4 data blocks)
  const dirWithData = await makeTar([{ name: 'x', content: 'data' }]);
  dirWithData[156] = '5'.charCodeAt(0); // a directory that carries data
  dirWithData.write(headerChecksum(dirWithData), 148, 'latin1');
  const cases: Array<[string, Buffer, RegExp]> = [
    ['truncated in a file', good.subarray(0, 1000), /^InvalidParameter: invalid tar stream: Unexpected end of data$/],
    ['truncated in a header', good.subarray(0, 512 + 2048 + 100), /Unexpected end of data/],
    [
      'a bad checksum',
      badSum,
      /^InvalidParameter: invalid tar stream: Invalid tar header\. Maybe the tar is corrupted/,
    ],
    [
      'a directory with data',
      dirWithData,
      /^InvalidParameter: invalid tar: directory entry "x" carries 4 bytes of data$/,
    ],
    ['an escaping name', await makeTar([{ name: '../x', content: 'x' }]), /escapes the target directory/],
  ];
  for (const [what, tar, expect] of cases) {
    for (const sizes of [[1 << 20], [1], [513]]) {
      const r = await both(tar, { whiteouts: 'overlay', record: true, sync: false }, sizes);
      assert.equal(typeof r.fed, 'string', `${what} fed in ${sizes} was applied`);
      assert.equal(r.fed, r.streamed, `${what}, fed in ${sizes}`);
      assert.match(r.fed as string, expect, what);
    }
  }
});

test('fed with a spill file, an unfaithful layer spills from its cut exactly as streamed', async () => {
  const base = await makeTar([
    { name: 'f', content: 'first\n' },
    { name: 'big', content: Buffer.alloc(300_000, 9) },
    { name: 'f', content: 'second\n' }, // a path written twice: the record cannot give it back
    { name: 'g', content: 'g' },
  ]);
  const badSum = Buffer.from(base);
  badSum[512 + 512 + 512 + 300_032 + 3] ^= 0x40; // the second 'f' header: the rest is no tar
  for (const tar of [base, badSum]) {
    for (const sizes of [[1 << 20], [1], [513], [100_000]]) {
      const outs: ApplyResult[] = [];
      const files: Buffer[] = [];
      for (const way of ['fed', 'streamed']) {
        const t = tempDir();
        try {
          const target = join(t.path, 'target');
          mkdirSync(target);
          const spillTo = join(t.path, 'spill', 'layer.tar');
          const opts: ApplyOptions = { whiteouts: 'overlay', record: true, spillTo, digest: false, sync: false };
          const res =
            way === 'fed'
              ? await applyFed(tar, target, opts, sizes)
              : await applyStreamed(Readable.from([tar]), target, opts);
          outs.push(res);
          files.push(existsSync(spillTo) ? readFileSync(spillTo) : Buffer.alloc(0));
        } finally {
          t.cleanup();
        }
      }
      assert.deepEqual(outs[0], outs[1], `fed in ${sizes}`);
      assert.ok(outs[0]!.spilled, 'spilled');
      assert.ok(files[0]!.equals(tar), 'the spill file is the whole tar');
      assert.equal(outs[0]!.spilled!.digest, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
    }
  }
});

test('through the unpacking thread, a header split across two batches and big files across many apply', async () => {
  const tar = await richTar();
  // The main thread makes a batch of a chunk bigger than a MiB as it is: the header at 1 MiB
  // is cut 100 bytes in.
  const first = (1 << 20) + 100;
  const t = tempDir();
  const ref = tempDir();
  try {
    const opts: ApplyOptions = { whiteouts: 'overlay', record: true, sync: false };
    const res = await applyOffThread(Readable.from([tar.subarray(0, first), tar.subarray(first)]), t.path, opts);
    const want = await applyStreamed(Readable.from([tar]), ref.path, opts);
    assert.equal(res.diffID, want.diffID);
    assert.deepEqual(tree(t.path), tree(ref.path));
    const back = await collect(rebuildLayer(Buffer.from(res.record!), t.path, res.diffID));
    assert.ok(back.equals(tar));
    // Many 1 MiB batches, reused as they come back: every byte lands as sent.
    const many = await makeTar([
      { name: 'a', content: Buffer.alloc(5 << 20, 1) },
      { name: 'b', content: Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => i % 253)) },
    ]);
    const d2 = join(t.path, 'many');
    mkdirSync(d2);
    const chunks: Buffer[] = [];
    for (let off = 0; off < many.length; off += 65536) chunks.push(many.subarray(off, off + 65536));
    const r2 = await applyOffThread(Readable.from(chunks), d2, opts);
    assert.equal(r2.diffID, `sha256:${createHash('sha256').update(many).digest('hex')}`);
    assert.ok(readFileSync(join(d2, 'b')).equals(Buffer.from(Array.from({ length: 3 << 20 }, (_, i) => i % 253))));
    assert.ok(readFileSync(join(d2, 'a')).equals(Buffer.alloc(5 << 20, 1)));
  } finally {
    t.cleanup();
    ref.cleanup();
  }
});

test(
  'a fed source that fails before its first batch or between batches fails the apply with its own error',
  { timeout: 30_000 },
  async () => {
    const tar = await makeTar([{ name: 'a', content: Buffer.alloc(3 << 20, 1) }]);
    for (const before of [0, 1 << 20, (1 << 20) + 700]) {
      const t = tempDir();
      try {
        const source = new Readable({ read() {} });
        if (before > 0) source.push(tar.subarray(0, before));
        setTimeout(() => source.destroy(new Error('the registry went away')), 50);
        await assert.rejects(applyOffThread(source, t.path, { whiteouts: 'overlay', record: true, sync: false }), {
          message: 'the registry went away',
        });
      } finally {
        t.cleanup();
      }
    }
  },
);

/** What GNU tar makes of `tar`: its exit status and the tree it extracts. */
function gnuExtract(tar: Buffer): { status: number; tree: string[] } {
  const t = tempDir();
  try {
    const file = join(t.path, 'x.tar');
    const out = join(t.path, 'out');
    writeFileSync(file, tar);
    mkdirSync(out);
    let status = 0;
    try {
      execFileSync('tar', ['-C', out, '--numeric-owner', '-xf', file], { stdio: 'ignore' });
    } catch (err) {
      status = (err as { status: number }).status;
    }
    return { status, tree: tree(out) };
  } finally {
    t.cleanup();
  }
}

test('PAX and GNU long-name entries of size 0 read the same streamed and fed, as Docker reads them', async () => {
  // The file after the empty entry has padding: a reader that still awaits the empty entry's
  // data takes that padding, and then the next header, for it.
  const a = 'a'.repeat(700);
  const tail = [ustarFile('a', a), ustarFile('b', 'bbb\n'), Buffer.alloc(1024)];
  const cases: Array<[string, Buffer[]]> = [
    ["an 'x' entry of size 0", [ustarHeader('PaxHeaders/a', 'x', 0), ...tail]],
    ["a 'g' entry of size 0", [ustarHeader('pax_global_header', 'g', 0), ...tail]],
    ["an 'L' entry of size 0", [ustarHeader('././@LongLink', 'L', 0), ...tail]],
    ["a 'K' entry of size 0", [ustarHeader('././@LongLink', 'K', 0), ustarHeader('s', '2', 0, 'a'), ...tail]],
  ];
  for (const [what, blocks] of cases) {
    const tar = Buffer.concat(blocks);
    const gnu = gnuExtract(tar);
    for (const sizes of [[1 << 20], [1], [513]]) {
      const r = await both(tar, { whiteouts: 'overlay', record: true, sync: false }, sizes);
      assert.equal(typeof r.streamed, 'object', `${what} streamed: ${String(r.streamed)}`);
      assert.equal(typeof r.fed, 'object', `${what} fed in ${sizes}: ${String(r.fed)}`);
      assert.deepEqual(r.fedTree, r.streamedTree, `${what}: fed in ${sizes} as streamed`);
      assert.ok(
        r.streamedTree.some((l) => l.startsWith('b 100644 ')),
        `${what}: the entry after is there`,
      );
      // GNU tar gives the next entry an empty name (and fails on it); Docker (Go's archive/tar)
      // keeps the header's own name, and so does Strata on both paths.
      if (gnu.status === 0) assert.deepEqual(r.streamedTree, gnu.tree, `${what}: as GNU tar extracts it`);
      else
        assert.ok(
          r.streamedTree.some((l) => l.startsWith('a 100644 ')),
          `${what}: the header's own name`,
        );
    }
    if (what.includes("'x'") || what.includes("'g'")) assert.equal(gnu.status, 0, `GNU tar reads ${what}`);
    else assert.notEqual(gnu.status, 0, `GNU tar fails on ${what}`);
  }
});
