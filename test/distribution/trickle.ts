// Slow-registry fixtures for pull tests: an image of incompressible layers pushed as raw blobs,
// a proxy that trickles blob bodies out (and records how each blob connection ended), and a
// check that `docker save` gives the layers back byte for byte.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { ok, type TestDaemon } from '../helpers/daemon.js';
import { makeTar } from '../image/fixture-archive.js';
import { putBlob, putManifest, serveOnLoopback, sha256 } from './registry.js';

const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Pushes an image of `tars` (gzipped); returns its ID. */
export async function pushRaw(addr: string, repo: string, tag: string, tars: Buffer[]): Promise<string> {
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
export async function bigLayers(): Promise<Buffer[]> {
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

/** A blob GET through the trickle proxy: open, answered whole, or cut off (the client hung up). */
export interface BlobFetch {
  path: string;
  state: 'open' | 'ended' | 'cut';
}

export interface TrickleProxy {
  addr: string;
  /** Every blob GET, in order. */
  blobs: BlobFetch[];
  stop(): Promise<void>;
}

/** A proxy that passes blob bodies on in 64 KiB pieces, one every `everyMs` per connection. */
export async function startTrickleProxy(target: string, everyMs: number): Promise<TrickleProxy> {
  const [host, port] = target.split(':');
  const blobs: BlobFetch[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')) {
      const fetch: BlobFetch = { path: req.url ?? '', state: 'open' };
      blobs.push(fetch);
      res.on('close', () => (fetch.state = res.writableFinished ? 'ended' : 'cut'));
    }
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
            if (res.destroyed) return;
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
  return { ...(await serveOnLoopback(server)), blobs };
}

/** The layers `docker save` gives back equal `tars`. */
export function assertSaved(d: TestDaemon, ref: string, tars: Buffer[]): void {
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

export interface SlowUploadProxy {
  addr: string;
  /** Every request line (`METHOD path`), in order. */
  requests: string[];
  /** Every blob upload (PATCH or PUT): open, read whole, or cut off by the client. */
  uploads: BlobFetch[];
  stop(): Promise<void>;
}

/** A proxy that reads upload bodies 64 KiB at a time, one piece every `everyMs` per connection. */
export async function startSlowUploadProxy(target: string, everyMs: number): Promise<SlowUploadProxy> {
  const [host, port] = target.split(':');
  const requests: string[] = [];
  const uploads: BlobFetch[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const up = http.request(
      { host, port: Number(port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    const upload = (req.method === 'PATCH' || req.method === 'PUT') && /\/blobs\/uploads\//.test(req.url ?? '');
    if (!upload) return void req.pipe(up);
    const u: BlobFetch = { path: req.url ?? '', state: 'open' };
    uploads.push(u);
    req.on('close', () => {
      u.state = req.complete ? 'ended' : 'cut';
      if (!req.complete) up.destroy();
    });
    req.on('data', (c: Buffer) => {
      req.pause();
      up.write(c);
      setTimeout(() => req.resume(), Math.ceil(c.length / (64 << 10)) * everyMs);
    });
    req.on('end', () => up.end());
  });
  return { ...(await serveOnLoopback(server)), requests, uploads };
}
