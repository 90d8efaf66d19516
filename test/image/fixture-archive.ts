// Builds small docker-archive and OCI-layout tars with fixed bytes, so the IDs Docker computes
// for them can be written down once (from the reference daemon) and checked forever.
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';

const mtime = new Date('2026-01-01T00:00:00Z');

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
}

export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        mtime,
        linkname: e.linkname,
        uid: 0,
        gid: 0,
      };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry({ ...header, size: data.length }, data, cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Three layers: a base, one with a whiteout, one with an opaque directory; the middle one gzipped. */
export async function layeredLayers(): Promise<Buffer[]> {
  const l1 = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/hello', data: 'hello\n' },
    { name: 'etc/keep', data: 'keep\n' },
    { name: 'a.txt', data: 'a\n' },
    { name: 'link', type: 'symlink', linkname: '/etc/hello' },
  ]);
  const l2 = await makeTar([
    { name: '.wh.a.txt', data: '' },
    { name: 'b.txt', data: 'bee\n' },
  ]);
  const l3 = await makeTar([
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh..wh..opq', data: '' },
    { name: 'etc/new', data: 'new\n' },
  ]);
  return [l1, l2, l3];
}

export function layeredConfig(diffIDs: string[], label = 'layered'): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/bin:/bin'], Labels: { 'test.fixture': label } },
      created: '2026-01-01T00:00:00Z',
      history: [
        { created: '2026-01-01T00:00:00Z', created_by: 'layer one' },
        { created: '2026-01-01T00:00:00Z', created_by: 'layer two' },
        { created: '2026-01-01T00:00:00Z', created_by: 'ENV nothing', empty_layer: true },
        { created: '2026-01-01T00:00:00Z', created_by: 'layer three', comment: 'last' },
      ],
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: diffIDs },
    }),
  );
}

/** A docker-archive as `docker save` lays it out; layer `gzipIndex` is stored gzip-compressed. */
export async function dockerArchive(
  opts: { tag?: string; gzipIndex?: number; label?: string; layers?: Buffer[]; config?: Buffer } = {},
): Promise<{ tar: Buffer; id: string; diffIDs: string[] }> {
  const layers = opts.layers ?? (await layeredLayers());
  const diffIDs = layers.map((l) => sha256(l));
  const config = opts.config ?? layeredConfig(diffIDs, opts.label);
  const id = sha256(config);
  const entries: TarEntry[] = [];
  const paths: string[] = [];
  layers.forEach((l, i) => {
    const dir = diffIDs[i]!.slice(7);
    entries.push({ name: `${dir}/`, type: 'directory' });
    entries.push({ name: `${dir}/layer.tar`, data: i === (opts.gzipIndex ?? 1) ? zlib.gzipSync(l) : l });
    paths.push(`${dir}/layer.tar`);
  });
  entries.push({ name: `${id.slice(7)}.json`, data: config });
  entries.push({
    name: 'manifest.json',
    data: JSON.stringify([{ Config: `${id.slice(7)}.json`, RepoTags: opts.tag ? [opts.tag] : null, Layers: paths }]),
  });
  return { tar: await makeTar(entries), id, diffIDs };
}

/** The same image as an OCI image layout (gzip layers, descriptors by compressed digest). */
export async function ociArchive(name?: string): Promise<{ tar: Buffer; id: string }> {
  const layers = await layeredLayers();
  const diffIDs = layers.map((l) => sha256(l));
  const config = layeredConfig(diffIDs);
  const gz = layers.map((l) => zlib.gzipSync(l));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: gz.map((g) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: sha256(g),
        size: g.length,
      })),
    }),
  );
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256(manifest),
        size: manifest.length,
        ...(name
          ? {
              annotations: {
                'io.containerd.image.name': name,
                'org.opencontainers.image.ref.name': name.split(':').pop(),
              },
            }
          : {}),
      },
    ],
  };
  const blob = (b: Buffer): TarEntry => ({ name: `blobs/sha256/${sha256(b).slice(7)}`, data: b });
  const tar = await makeTar([
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: JSON.stringify(index) },
    { name: 'blobs/', type: 'directory' },
    { name: 'blobs/sha256/', type: 'directory' },
    blob(manifest),
    blob(config),
    ...gz.map(blob),
  ]);
  return { tar, id: sha256(config) };
}
