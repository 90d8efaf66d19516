// A pull writes no scratch file when its layers arrive faster than they unpack: each layer is
// applied from its own connection, the ones waiting for their turn paused by backpressure. The
// scratch directory is watched through inotify for the whole pull. Behind a registry slower than
// unpacking (a proxy that trickles every blob out), the layers waiting for their turn are
// fetched ahead into scratch files, and the image still pulls byte for byte with none left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ok, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { makeTar } from '../image/fixture-archive.js';
import { errorOf, pullImage, putBlob, putManifest, sha256, startRegistry } from './registry.js';

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Pushes an image of `tars` (gzipped); returns its ID. */
async function pushRaw(addr: string, repo: string, tag: string, tars: Buffer[]): Promise<string> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256(t)) },
      history: tars.map(() => ({ created_by: 'test' })),
    }),
  );
  const layers = [];
  for (const t of tars) {
    const gz = zlib.gzipSync(t, { level: 1 });
    layers.push({ mediaType: LAYER, digest: await putBlob(addr, repo, gz), size: gz.length });
  }
  const configDigest = await putBlob(addr, repo, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: configDigest, size: config.length },
    layers,
  };
  await putManifest(addr, repo, tag, MANIFEST, Buffer.from(JSON.stringify(manifest)));
  return sha256(config);
}

/** Five layers of a few MiB each that gzip cannot shrink: more than unpack at once, each over a head. */
async function bigLayers(): Promise<Buffer[]> {
  const tars = [];
  for (let i = 0; i < 5; i++)
    tars.push(
      await makeTar([
        { name: `l${i}/`, type: 'directory' },
        { name: `l${i}/data.bin`, data: randomBytes(3 << 20) },
      ]),
    );
  return tars;
}

/**
 * The names created in `dir` while `run` runs. A marker file made after it is the last event
 * read: inotify keeps its events in order, so every earlier one has been seen by then.
 */
async function createdIn(dir: string, run: () => Promise<void>): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
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

/** A proxy that passes blob bodies on in 64 KiB pieces, one every `everyMs` per connection. */
async function startTrickleProxy(target: string, everyMs: number): Promise<{ addr: string; stop(): Promise<void> }> {
  const [host, port] = target.split(':');
  const server = http.createServer((req, res) => {
    const up = http.request(
      { host, port: Number(port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (!/\/blobs\/sha256:/.test(req.url ?? '') || req.method !== 'GET') return answer.pipe(res);
        answer.on('data', (c: Buffer) => {
          answer.pause();
          const pieces: Buffer[] = [];
          for (let o = 0; o < c.length; o += 64 << 10) pieces.push(c.subarray(o, o + (64 << 10)));
          const next = () => {
            const p = pieces.shift();
            if (!p) return answer.resume();
            res.write(p);
            setTimeout(next, everyMs);
          };
          next();
        });
        answer.on('end', () => res.end());
        answer.on('error', () => res.destroy());
        res.on('close', () => answer.destroy());
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    addr: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The layers `docker save` gives back equal `tars`. */
function assertSaved(d: TestDaemon, ref: string, tars: Buffer[]): void {
  const dir = path.join(d.dir, 'saved');
  fs.mkdirSync(dir);
  try {
    ok(d.docker(['save', '-o', path.join(dir, 'image.tar'), ref]), 'save');
    assert.equal(spawnSync('tar', ['-xf', path.join(dir, 'image.tar'), '-C', dir]).status, 0, 'untar');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
    assert.equal(manifest[0]!.Layers.length, tars.length);
    for (const [i, l] of manifest[0]!.Layers.entries())
      assert.ok(fs.readFileSync(path.join(dir, l)).equals(tars[i]!), `layer ${i} saved differs`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a pull from a registry faster than unpacking writes no scratch file', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  try {
    const tars = await bigLayers();
    const id = await pushRaw(reg.addr, 'team/fast', 'v1', tars);
    const scratch = path.join(d.dataRoot, 'tmp', 'pull');
    const created = await createdIn(scratch, async () => {
      const r = await pullImage(d.socket, `${reg.addr}/team/fast`, { tag: 'v1' });
      assert.equal(errorOf(r), undefined, r.text);
      assert.equal(r.messages.filter((m) => m.status === 'Pull complete').length, tars.length, r.text);
      assert.equal(r.messages.filter((m) => m.status === 'Download complete').length, tars.length, r.text);
    });
    assert.deepEqual(created, [], 'scratch files written by the pull');
    const ref = `${reg.addr}/team/fast:v1`;
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim(), id);
    assertSaved(d, ref, tars);
  } finally {
    await reg.stop();
    await d.stop();
  }
});

test('a pull from a registry slower than unpacking fetches waiting layers ahead and leaves no scratch file', async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  const proxy = await startTrickleProxy(reg.addr, 40);
  try {
    const tars = await bigLayers();
    const id = await pushRaw(reg.addr, 'team/slow', 'v1', tars);
    const scratch = path.join(d.dataRoot, 'tmp', 'pull');
    const created = await createdIn(scratch, async () => {
      const r = await pullImage(d.socket, `${proxy.addr}/team/slow`, { tag: 'v1' });
      assert.equal(errorOf(r), undefined, r.text);
      assert.equal(r.messages.filter((m) => m.status === 'Pull complete').length, tars.length, r.text);
    });
    // The unpacking threads waited on their connections: the layers behind them went to files.
    assert.ok(created.length > 0, 'no scratch file behind a slow registry');
    assert.deepEqual(fs.readdirSync(scratch), [], 'scratch files left behind');
    const ref = `${proxy.addr}/team/slow:v1`;
    assert.equal(d.docker(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim(), id);
    assertSaved(d, ref, tars);
  } finally {
    await proxy.stop();
    await reg.stop();
    await d.stop();
  }
});
