// A pull keeps no staged copy of a layer's tar: its tar-split record gives the tar back. Watched
// through inotify on the content store's ingest directory, a pull of faithful layers opens no
// ingest at all. A layer whose files cannot give its tar back (a path written twice) is applied
// again from its bytes, staged, and kept whole: fetched again from the registry (every layer of
// a pull from a fast registry is applied from its socket), and `docker save` gives every layer
// back byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { randomBytes } from 'node:crypto';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { makeTar } from '../image/fixture-archive.js';
import { errorOf, pullImage, putBlob, putManifest, sha256, startRegistry } from './registry.js';
import { startPagingProxy } from './paging-proxy.js';

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Pushes an image of `tars` (gzipped) to the registry; returns its ID and its layers' blob digests. */
async function pushRaw(addr: string, repo: string, tag: string, tars: Buffer[]) {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['/nothing'] },
      rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256(t)) },
      history: tars.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'test' })),
    }),
  );
  const layers = [];
  for (const t of tars) {
    const gz = zlib.gzipSync(t);
    layers.push({ mediaType: LAYER, digest: await putBlob(addr, repo, gz), size: gz.length });
  }
  const configDigest = await putBlob(addr, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      config: {
        mediaType: 'application/vnd.docker.container.image.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers,
    }),
  );
  await putManifest(addr, repo, tag, MANIFEST, manifest);
  return { id: sha256(config), blobs: layers.map((l) => l.digest) };
}

/** The files of a tar, by name. */
async function untar(buf: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = tarStream.extract();
  Readable.from([buf]).pipe(ex);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(entry.header.name, Buffer.concat(chunks));
  }
  return out;
}

/** The layer tars `docker save` gives for `ref`, base first. */
async function savedLayers(d: TestDaemon, ref: string): Promise<Buffer[]> {
  const file = path.join(d.dir, 'saved.tar');
  ok(d.docker(['save', '-o', file, ref]), 'save');
  const files = await untar(fs.readFileSync(file));
  fs.rmSync(file);
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Layers: string[] }[];
  return manifest[0]!.Layers.map((l) => files.get(l)!);
}

/**
 * The names created in `dir` while `run` runs. A marker file made after it is the last event
 * read: inotify keeps its events in order, so every earlier one has been seen by then.
 */
async function createdIn(dir: string, run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const marker = `.marker-${randomBytes(4).toString('hex')}`;
  let markerSeen!: () => void;
  const done = new Promise<void>((resolve) => (markerSeen = resolve));
  const watcher = fs.watch(dir, (event, name) => {
    if (name === marker) markerSeen();
    else if (event === 'rename' && name) seen.push(name);
  });
  try {
    await run();
    fs.writeFileSync(path.join(dir, marker), '');
    await done;
  } finally {
    watcher.close();
    fs.rmSync(path.join(dir, marker), { force: true });
  }
  return seen;
}

test('a pull of layers whose records give their tars back opens no ingest, and save gives them back', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  try {
    const repo = 'team/plain';
    const tars = [
      await makeTar([
        { name: 'etc/', type: 'directory' },
        { name: 'etc/big.bin', data: randomBytes(1 << 20) },
        { name: 'etc/link', type: 'symlink', linkname: 'big.bin' },
      ]),
      await makeTar([{ name: 'top.txt', data: 'top\n' }]),
      await makeTar([{ name: 'more.txt', data: 'more\n'.repeat(100) }]),
    ];
    const img = await pushRaw(reg.addr, repo, 'v1', tars);
    const ingest = path.join(d.dataRoot, 'content', 'ingest');
    const created = await createdIn(ingest, async () => {
      const r = await pullImage(d.socket, `${reg.addr}/${repo}`, { tag: 'v1' });
      assert.equal(errorOf(r), undefined, r.text);
      assert.equal(r.messages.filter((m) => m.status === 'Pull complete').length, 3, r.text);
    });
    assert.deepEqual(created, [], 'ingests opened by the pull');
    const ref = `${reg.addr}/${repo}:v1`;
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim(), img.id);
    const saved = await savedLayers(d, ref);
    assert.equal(saved.length, 3);
    for (const [i, t] of tars.entries()) assert.ok(saved[i]!.equals(t), `layer ${i} saved differs`);
    // No blob was kept for them: the records stand for the tars.
    const blobs = fs.readdirSync(path.join(d.dataRoot, 'content', 'blobs', 'sha256'));
    for (const t of tars) assert.ok(!blobs.includes(sha256(t).slice(7)), 'a layer tar kept as a blob');
  } finally {
    await reg.stop();
    await d.stop();
  }
});

test('a pulled layer whose files cannot give its tar back is applied again, staged, and saved byte for byte', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  const proxy = await startPagingProxy(reg.addr, (tags) => tags);
  try {
    const repo = 'team/twice';
    // Each writes a path twice: the files hold only the second copy, so no record can give the tar.
    const tars = [
      await makeTar([
        { name: 'a.txt', data: 'first copy, longer than the second\n' },
        { name: 'b.txt', data: randomBytes(256 << 10) },
        { name: 'a.txt', data: 'second\n' },
      ]),
      await makeTar([{ name: 'mid.txt', data: 'a faithful layer\n' }]),
      await makeTar([
        { name: 'c.txt', data: 'one\n' },
        { name: 'c.txt', data: 'two, and longer\n' },
      ]),
    ];
    const img = await pushRaw(reg.addr, repo, 'v1', tars);
    const r = await pullImage(d.socket, `${proxy.addr}/${repo}`, { tag: 'v1' });
    assert.equal(errorOf(r), undefined, r.text);
    assert.equal(r.messages.filter((m) => m.status === 'Pull complete').length, 3, r.text);
    const ref = `${proxy.addr}/${repo}:v1`;
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim(), img.id);
    const gets = (blob: string) => proxy.requests.filter((l) => l === `GET /v2/${repo}/blobs/${blob}`).length;
    // Both came from their sockets: each fetched a second time, the faithful one once.
    assert.equal(gets(img.blobs[0]!), 2, proxy.requests.join('\n'));
    assert.equal(gets(img.blobs[1]!), 1, proxy.requests.join('\n'));
    assert.equal(gets(img.blobs[2]!), 2, proxy.requests.join('\n'));
    const saved = await savedLayers(d, ref);
    for (const [i, t] of tars.entries()) assert.ok(saved[i]!.equals(t), `layer ${i} saved differs`);
    // The two layers are kept whole as blobs, the faithful one as its record only.
    const blobs = fs.readdirSync(path.join(d.dataRoot, 'content', 'blobs', 'sha256'));
    assert.ok(blobs.includes(sha256(tars[0]!).slice(7)));
    assert.ok(!blobs.includes(sha256(tars[1]!).slice(7)));
    assert.ok(blobs.includes(sha256(tars[2]!).slice(7)));
    assert.equal(fs.readdirSync(path.join(d.dataRoot, 'content', 'ingest')).length, 0, 'ingests left behind');
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});
