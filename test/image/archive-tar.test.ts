// The outer-tar reader of a load against tar-stream's extractor (what read archives before):
// the same entries, names and bytes whatever the chunking, the same errors; and readArchive
// driven by it through a store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import '../../src/archive/tarstream.js'; // the decoder the daemon runs with
import { ArchiveTarReader } from '../../src/image/archive-tar.js';
import { readArchive, resolveName, smallFile } from '../../src/image/archive-reader.js';
import { InvalidParameter } from '../../src/errors.js';
import { makeTar, sha256 } from './fixture-archive.js';
import { openStore, removeStoreDir } from './store-helper.js';

interface Seen {
  name: string;
  type: string;
  size: number;
  linkname: string | null;
  data: string;
}

/** What tar-stream's extractor makes of `tar` (the old reader's view), or its error. */
async function viaTarStream(tar: Buffer): Promise<Seen[] | Error> {
  const extract = tarStream.extract();
  const seen: Seen[] = [];
  Readable.from([tar]).pipe(extract);
  try {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      seen.push({
        name: h.name,
        type: h.type as string,
        size: h.size ?? 0,
        linkname: h.linkname ?? null,
        data: sha256(Buffer.concat(chunks)),
      });
    }
  } catch (err) {
    return err as Error;
  }
  return seen;
}

/** What ArchiveTarReader makes of `tar` handed over in the pieces `cuts` ends them at, or its error. */
async function viaReader(tar: Buffer, pieces: Buffer[]): Promise<Seen[] | Error> {
  const seen: Seen[] = [];
  const reader = new ArchiveTarReader((h) => {
    const chunks: Buffer[] = [];
    return {
      data: (c) => chunks.push(Buffer.from(c)),
      end: async () => {
        // An end that holds the next entry back, as staging a layer does.
        await new Promise((resolve) => setImmediate(resolve));
        seen.push({
          name: h.name,
          type: h.type as string,
          size: h.size ?? 0,
          linkname: h.linkname ?? null,
          data: sha256(Buffer.concat(chunks)),
        });
      },
    };
  });
  try {
    for (const p of pieces) await reader.feed(p);
    reader.end();
  } catch (err) {
    return err as Error;
  }
  assert.equal(
    pieces.reduce((n, p) => n + p.length, 0),
    tar.length,
  );
  return seen;
}

function split(tar: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < tar.length; off += size) out.push(tar.subarray(off, off + size));
  return out;
}

function same(a: Seen[] | Error, b: Seen[] | Error, what: string): void {
  if (a instanceof Error || b instanceof Error) {
    assert.ok(a instanceof Error && b instanceof Error, `${what}: ${String(a)} vs ${String(b)}`);
    assert.equal(a.message, b.message, what);
    return;
  }
  assert.deepEqual(a, b, what);
}

/** A tar written by GNU tar in `format` of files with long names, links and odd sizes. */
function gnuTar(format: 'gnu' | 'pax'): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-outer-'));
  try {
    const long = 'd'.repeat(60) + '/' + 'e'.repeat(70) + '/' + 'f'.repeat(80);
    fs.mkdirSync(path.join(dir, 'src', long), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src', long, 'layer.tar'), randomBytes(70_000));
    fs.writeFileSync(path.join(dir, 'src', 'manifest.json'), '[{"Config":"c.json"}]');
    fs.writeFileSync(path.join(dir, 'src', 'empty'), '');
    fs.writeFileSync(path.join(dir, 'src', 'block'), randomBytes(512));
    fs.writeFileSync(path.join(dir, 'src', 'ünïcode-ñame'), randomBytes(513));
    fs.symlinkSync(`${long}/layer.tar`, path.join(dir, 'src', 'link-with-a-long-target'));
    fs.linkSync(path.join(dir, 'src', 'block'), path.join(dir, 'src', 'hard'));
    const out = path.join(dir, 'out.tar');
    const r = spawnSync('tar', [`--format=${format}`, '-C', path.join(dir, 'src'), '-cf', out, '.']);
    assert.equal(r.status, 0, r.stderr.toString());
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A v1 docker save: each layer a directory, a layer seen before written as a symlink to it. */
async function dockerSave(): Promise<{ tar: Buffer; layer: Buffer; config: Buffer }> {
  const layer = await makeTar([{ name: 'big', data: randomBytes(3 << 20) }]);
  const diffID = sha256(layer);
  const config = Buffer.from(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [diffID, diffID] } }));
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  const tar = await makeTar([
    { name: `${a}/`, type: 'directory' },
    { name: `${a}/layer.tar`, data: layer },
    { name: `${b}/`, type: 'directory' },
    { name: `${b}/layer.tar`, type: 'symlink', linkname: `../${a}/layer.tar` },
    { name: `${sha256(config).slice(7)}.json`, data: config },
    { name: 'manifest.json', data: JSON.stringify([{ Config: `${sha256(config).slice(7)}.json` }]) },
  ]);
  return { tar, layer, config };
}

test('the reader sees what tar-stream sees in GNU and PAX archives, whatever the chunks', async () => {
  for (const format of ['gnu', 'pax'] as const) {
    const tar = gnuTar(format);
    const expected = await viaTarStream(tar);
    assert.ok(!(expected instanceof Error));
    assert.ok(
      expected.some((e) => e.name.length > 200 && e.name.endsWith('/layer.tar')),
      'a long name',
    );
    assert.ok(
      expected.some((e) => e.type === 'symlink' && e.linkname!.length > 100),
      'a long link target',
    );
    assert.ok(expected.some((e) => e.type === 'link'));
    same(await viaReader(tar, [tar]), expected, `${format}: whole`);
    same(await viaReader(tar, split(tar, 1)), expected, `${format}: 1-byte chunks`);
    for (const size of [511, 512, 513, 4096, 7001])
      same(await viaReader(tar, split(tar, size)), expected, `${format}: ${size}`);
    // Split once at every place in the first blocks: inside headers, long names and their padding.
    for (let cut = 1; cut < 4096; cut++) {
      same(await viaReader(tar, [tar.subarray(0, cut), tar.subarray(cut)]), expected, `${format}: cut at ${cut}`);
    }
  }
});

test('a truncated archive or a bad checksum fails as tar-stream fails', async () => {
  const tar = gnuTar('pax');
  let failed = 0;
  for (let cut = 1; cut < tar.length; cut += cut < 4096 ? 37 : 4099) {
    const t = tar.subarray(0, cut);
    const expected = await viaTarStream(t);
    if (expected instanceof Error) failed++;
    same(await viaReader(t, split(t, 100)), expected, `cut at ${cut}`);
  }
  assert.ok(failed > 100, 'most cuts fall inside a block or an entry');
  const bad = Buffer.from(tar);
  bad[1536 + 10] ^= 0x20; // a name byte of a later header: its checksum no longer matches
  const expected = await viaTarStream(bad);
  assert.ok(expected instanceof Error && /Invalid tar header/.test(expected.message), String(expected));
  same(await viaReader(bad, split(bad, 300)), expected, 'bad checksum');
});

test('readArchive over the reader: small files, staged layers and symlinked layer names as docker save writes them', async () => {
  const t = await openStore();
  try {
    const { tar, layer, config } = await dockerSave();
    for (const size of [tar.length, 65_536, 511, 97]) {
      const files = await readArchive(Readable.from(split(tar, size)), t.store.layers);
      const a = 'a'.repeat(64);
      const b = 'b'.repeat(64);
      assert.equal(resolveName(files, `${b}/layer.tar`), `${a}/layer.tar`, `${size}`);
      assert.deepEqual([...files.staged.keys()], [`${a}/layer.tar`]);
      const staged = files.staged.get(`${a}/layer.tar`)!;
      assert.equal(staged.diffID, sha256(layer));
      assert.equal(staged.rawSize, layer.length);
      assert.ok(fs.readFileSync(staged.path).equals(layer), 'the staged bytes are the layer');
      assert.ok(smallFile(files, `${sha256(config).slice(7)}.json`)!.equals(config));
      assert.ok(smallFile(files, 'manifest.json'));
      for (const s of files.staged.values()) await s.writer?.abort();
    }
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});

test('readArchive of an archive cut mid-layer or with a broken header: invalid archive, nothing staged left', async () => {
  const t = await openStore();
  try {
    const { tar } = await dockerSave();
    const bad = Buffer.from(tar);
    bad[tar.indexOf(`${'b'.repeat(64)}/`) + 5] ^= 0x20; // the header after the layer: its checksum no longer matches
    for (const [what, input] of [
      ['cut', tar.subarray(0, 2 << 20)],
      ['bad checksum', bad],
    ] as const) {
      await assert.rejects(readArchive(Readable.from(split(input, 4096)), t.store.layers), (err: Error) => {
        assert.ok(err instanceof InvalidParameter, what);
        assert.match(err.message, /^invalid archive: /, what);
        return true;
      });
      assert.deepEqual((await t.census()).ingests, [], `${what}: no ingest left`);
    }
  } finally {
    t.close();
    removeStoreDir(t.dir);
  }
});
