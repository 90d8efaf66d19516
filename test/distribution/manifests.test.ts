// Manifests written straight into a real registry: an OCI index with two platforms (this
// machine's chosen by default, the other with --platform, none is a clear error), and layers
// compressed with gzip, zstd and not at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { ok, startDaemon } from '../helpers/daemon.js';
import { makeTar } from '../image/fixture-archive.js';
import { apiStream, errorOf, pullImage, putBlob, putManifest, sha256, startRegistry } from './registry.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

interface Built {
  config: Buffer;
  manifest: Buffer;
  digest: string;
}

async function pushImage(
  addr: string,
  repo: string,
  arch: string,
  layers: { tar: Buffer; data: Buffer; mediaType: string }[],
): Promise<Built> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['/nothing'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l.tar)) },
      history: layers.map(() => ({ created: '2026-01-01T00:00:00Z', created_by: 'test' })),
    }),
  );
  const descs = [];
  for (const l of layers)
    descs.push({ mediaType: l.mediaType, digest: await putBlob(addr, repo, l.data), size: l.data.length });
  const configDigest = await putBlob(addr, repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: descs,
    }),
  );
  const digest = await putManifest(addr, repo, sha256(manifest), OCI_MANIFEST, manifest);
  return { config, manifest, digest };
}

function index(entries: { b: Built; arch: string; variant?: string }[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: entries.map((e) => ({
        mediaType: OCI_MANIFEST,
        digest: e.b.digest,
        size: e.b.manifest.length,
        platform: { architecture: e.arch, os: 'linux', ...(e.variant ? { variant: e.variant } : {}) },
      })),
    }),
  );
}

test("an OCI index with two platforms: this machine's by default, the other with --platform, gzip, zstd and plain layers", async () => {
  const d = await startDaemon();
  const reg = await startRegistry();
  try {
    const repo = 'team/multi';
    const base = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/base.txt', data: 'gzip layer\n' },
    ]);
    const top = await makeTar([{ name: 'z.txt', data: 'zstd layer\n'.repeat(1000) }]);
    const arm = await makeTar([{ name: 'arch.txt', data: 'arm64\n' }]);
    const amd64 = await pushImage(reg.addr, repo, 'amd64', [
      { tar: base, data: zlib.gzipSync(base), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
      {
        tar: top,
        data: execFileSync('zstd', ['-q', '-c'], { input: top }),
        mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd',
      },
    ]);
    const arm64 = await pushImage(reg.addr, repo, 'arm64', [
      { tar: arm, data: arm, mediaType: 'application/vnd.oci.image.layer.v1.tar' },
    ]);
    const both = index([
      { b: amd64, arch: 'amd64' },
      { b: arm64, arch: 'arm64', variant: 'v8' },
    ]);
    const indexDigest = await putManifest(reg.addr, repo, 'multi', OCI_INDEX, both);
    await putManifest(
      reg.addr,
      repo,
      'elsewhere',
      OCI_INDEX,
      index([
        { b: arm64, arch: 'arm64', variant: 'v8' },
        { b: arm64, arch: 's390x' },
      ]),
    );
    const name = `${reg.addr}/${repo}`;

    const r = await pullImage(d.socket, name, { tag: 'multi' });
    assert.equal(errorOf(r), undefined, r.text);
    assert.equal(
      ok(d.docker(['image', 'inspect', '-f', '{{.Id}} {{.Architecture}}', `${name}:multi`]), 'inspect'),
      `${sha256(amd64.config)} amd64\n`,
    );
    assert.match(
      ok(d.docker(['image', 'inspect', '-f', '{{json .RepoDigests}}', `${name}:multi`]), 'inspect'),
      new RegExp(`${name}@${indexDigest}`),
      'RepoDigests name the index',
    );
    // The zstd layer's file is there, byte for byte.
    const cid = ok(d.docker(['create', `${name}:multi`]), 'create').trim();
    const copied = execFileSync('docker', ['cp', `${cid}:/z.txt`, '-'], {
      env: { ...process.env, DOCKER_HOST: d.host },
    });
    assert.ok(copied.includes(Buffer.from('zstd layer\n'.repeat(1000))), 'zstd layer content');
    ok(d.docker(['rm', cid]), 'rm');

    const other = await pullImage(d.socket, name, { tag: 'multi', platform: 'linux/arm64' });
    assert.equal(errorOf(other), undefined, other.text);
    assert.equal(
      ok(d.docker(['image', 'inspect', '-f', '{{.Id}}', `${name}:multi`]), 'inspect'),
      `${sha256(arm64.config)}\n`,
      '--platform chose the arm64 entry (plain layer)',
    );

    const none = await pullImage(d.socket, name, { tag: 'elsewhere' });
    assert.equal(errorOf(none), 'no matching manifest for linux/amd64 in the manifest list entries');
    assert.notEqual(d.docker(['image', 'inspect', `${name}:elsewhere`]).status, 0);

    const dist = await apiStream(d.socket, 'GET', `/distribution/${name}:multi/json`);
    assert.equal(dist.status, 200, dist.text);
    const info = dist.messages[0] as {
      Descriptor: { digest: string; mediaType: string; size: number };
      Platforms: { architecture: string }[];
    };
    assert.deepEqual(info.Descriptor, { mediaType: OCI_INDEX, digest: indexDigest, size: both.length });
    assert.deepEqual(
      info.Platforms.map((p) => p.architecture),
      ['amd64', 'arm64'],
    );
  } finally {
    await reg.stop();
    await d.stop();
  }
});
