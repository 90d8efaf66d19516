// docker push: for each layer, the blob it is known as in this registry (v2metadata) is looked
// for in the target repository (HEAD: `Layer already exists`), then mounted from the repository
// it came from (`Mounted from …`); only failing both is the layer compressed and uploaded. Then
// the config and a schema 2 manifest (OCI when a layer is OCI-typed, e.g. zstd) formatted as
// dockerd formats it, so an image pulled and pushed again keeps its manifest digest.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { createGzip } from 'node:zlib';
import { InvalidParameter, NotFound, SystemError } from '../errors.js';
import type { ImageStore } from '../image/service.js';
import type { ImageRow } from '../image/image-db.js';
import type { LayerRow } from '../image/layer-store.js';
import { familiar, repositoryOf as refRepository } from '../image/reference.js';
import { sha256 } from '../image/digest.js';
import type { AuthConfig } from './auth.js';
import { endpointsFor, repositoryOf, type RegistryOptions, type Repository } from './endpoint.js';
import { RegistrySession } from './session.js';
import { discard } from './http-client.js';
import { MediaType } from './manifest.js';
import { unexpected } from './registry-error.js';
import { progressReporter, shortDigest, statusMessage, type ProgressSink } from './progress.js';
import type { BlobSources } from './blob-sources.js';

export interface PushDeps {
  store: ImageStore;
  registry: RegistryOptions;
  blobs: BlobSources;
  emitEvent(action: string, id: string, attrs: Record<string, string>): void;
}

export interface PushRequest {
  /** Normalized repository name. */
  name: string;
  /** One tag, or every tag of the repository when absent. */
  tag?: string;
  /** A digest in the name, refused once the registry answered (as dockerd refuses it). */
  digest?: string;
  auth: AuthConfig;
  /** Aborted when the client went away: every request to the registry ends, and no other starts. */
  signal?: AbortSignal;
}

interface PushedBlob {
  mediaType: string;
  size: number;
  digest: string;
}

const UPLOADS = 5;

export async function push(deps: PushDeps, req: PushRequest, out: ProgressSink): Promise<void> {
  try {
    await pushRepository(deps, req, out);
  } catch (err) {
    // dockerd's context error: what failed first as the requests stopped is beside the point.
    if (req.signal?.aborted) throw new SystemError('context canceled', { cause: err });
    throw err;
  }
}

async function pushRepository(deps: PushDeps, req: PushRequest, out: ProgressSink): Promise<void> {
  const repo = repositoryOf(req.name);
  const shown = familiar(req.name);
  // As dockerd, the stream starts with the repository: what is missing locally is said after it.
  out({ status: `The push refers to repository [${req.name}]` });
  const refs = deps.store.rows.allRefs().filter((r) => refRepository(r.ref) === req.name);
  if (!refs.length) throw new NotFound(`An image does not exist locally with the tag: ${shown}`);
  // Every tag in the order of their references (dockerd sorts its associations so).
  const tags =
    req.digest && !req.tag
      ? []
      : req.tag
        ? [req.tag]
        : refs
            .filter((r) => !r.ref.includes('@'))
            .map((r) => r.ref.slice(r.ref.lastIndexOf(':') + 1))
            .sort();
  const found = tags.map((t) => {
    const id = deps.store.rows.lookupRef(`${req.name}:${t}`);
    return { tag: t, row: id ? deps.store.rows.get(id) : undefined };
  });
  const images = found.filter((f): f is { tag: string; row: ImageRow } => f.row !== undefined);

  // Mount sources need pull access to their repositories in the same token.
  const sources = new Set<string>();
  for (const { row } of images) {
    for (const l of deps.store.layerRowsOf(row))
      for (const s of deps.blobs.forLayer(l.diffID, repo.registry))
        if (s.repository !== repo.path) sources.add(s.repository);
  }
  const ep = endpointsFor(repo.registry, deps.registry).filter((e) => !e.mirror)[0]!;
  const session = new RegistrySession(
    ep,
    repo,
    req.auth,
    [`repository:${repo.path}:pull,push`, ...[...sources].map((s) => `repository:${s}:pull`)],
    req.signal,
  );
  // A registry that cannot be reached is said before any layer; refused credentials only once
  // the layers are being prepared, where dockerd meets them.
  await session.probe();
  // What names nothing pushable is refused once the registry answered, in dockerd's order.
  if (req.digest && !req.tag) throw new InvalidParameter('cannot push a digest reference');
  if (!tags.length) throw new NotFound(`no tags to push for ${shown}`);
  const missing = found.find((f) => !f.row);
  if (missing) throw new NotFound(`tag does not exist: ${shown}:${missing.tag}`);
  let authorized: Promise<void> | undefined;
  const authorize = () =>
    (authorized ??= (async () => {
      const ping = await session.ping();
      discard(ping);
      // A plain error, not a 401: the docker CLI answers a 401 with a login prompt.
      if (ping.status === 401) throw new SystemError('unauthorized: authentication required');
    })());

  for (const { tag, row } of images) await pushImage(deps, session, repo, tag, row, out, authorize);
}

async function pushImage(
  deps: PushDeps,
  session: RegistrySession,
  repo: Repository,
  tag: string,
  row: ImageRow,
  out: ProgressSink,
  authorize: () => Promise<void>,
): Promise<void> {
  const layers = deps.store.layerRowsOf(row);
  for (const l of [...layers].reverse()) out(statusMessage(shortDigest(l.diffID), 'Preparing'));
  // Layers past the concurrent uploads wait for a free one, as dockerd says.
  for (const l of layers.slice(UPLOADS)) out(statusMessage(shortDigest(l.diffID), 'Waiting'));
  await authorize();
  const results: PushedBlob[] = new Array(layers.length);
  let next = 0;
  const worker = async () => {
    while (next < layers.length) {
      const i = next++;
      results[i] = await pushLayer(deps, session, repo, layers[i]!, out);
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOADS, layers.length) }, worker));

  const configDigest = row.id;
  if (!(await blobExists(session, configDigest))) await uploadBuffer(session, row.config, configDigest);
  const oci = results.some((r) => r.mediaType.startsWith('application/vnd.oci.'));
  const manifest = Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: oci ? MediaType.ociManifest : MediaType.dockerManifest,
        config: {
          mediaType: oci ? MediaType.ociConfig : MediaType.dockerConfig,
          size: row.config.length,
          digest: configDigest,
        },
        layers: results.map((r) => ({ mediaType: r.mediaType, size: r.size, digest: r.digest })),
      },
      null,
      3,
    ),
  );
  const res = await session.request(`manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': oci ? MediaType.ociManifest : MediaType.dockerManifest },
    body: manifest,
  });
  if (res.status !== 201 && res.status !== 200) throw await unexpected(res, 'manifest put');
  discard(res);
  const digest = sha256(manifest);
  await deps.store.lock.run(async () => {
    if (deps.store.rows.get(row.id)) deps.store.rows.setRef(`${repo.name}@${digest}`, row.id);
  });
  out({ status: `${tag}: digest: ${digest} size: ${manifest.length}` });
  out({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifest.length } });
  deps.emitEvent('push', `${familiar(repo.name)}:${tag}`, { name: `${familiar(repo.name)}:${tag}` });
}

async function blobExists(session: RegistrySession, digest: string): Promise<{ size: number } | undefined> {
  const res = await session.request(`blobs/${digest}`, { method: 'HEAD' });
  discard(res);
  if (res.status === 200) return { size: Number(res.headers['content-length'] ?? 0) };
  if (res.status === 404) return undefined;
  throw await unexpected(res, `checking blob ${digest}`);
}

async function pushLayer(
  deps: PushDeps,
  session: RegistrySession,
  repo: Repository,
  layer: LayerRow,
  out: ProgressSink,
): Promise<PushedBlob> {
  const id = shortDigest(layer.diffID);
  const known = deps.blobs.forLayer(layer.diffID, repo.registry);
  for (const k of known.filter((s) => s.repository === repo.path)) {
    if (await blobExists(session, k.digest)) {
      out(statusMessage(id, 'Layer already exists'));
      return { mediaType: k.mediaType, size: k.size, digest: k.digest };
    }
    deps.blobs.remove(k.digest, k.registry, k.repository);
  }
  let upload: URL | undefined;
  for (const k of known.filter((s) => s.repository !== repo.path)) {
    const res = await session.request(
      `blobs/uploads/?mount=${encodeURIComponent(k.digest)}&from=${encodeURIComponent(k.repository)}`,
      { method: 'POST' },
    );
    discard(res);
    if (res.status === 201) {
      deps.blobs.add({ ...k, repository: repo.path });
      out(statusMessage(id, `Mounted from ${k.repository}`));
      return { mediaType: k.mediaType, size: k.size, digest: k.digest };
    }
    if (res.status === 202 && res.headers.location) {
      upload = new URL(res.headers.location, session.url('/'));
      break;
    }
  }
  const blob = await uploadLayer(deps, session, layer, upload, out);
  deps.blobs.add({ diffID: layer.diffID, ...blob, registry: repo.registry, repository: repo.path });
  out(statusMessage(id, 'Pushed'));
  return blob;
}

async function startUpload(session: RegistrySession): Promise<URL> {
  const res = await session.request('blobs/uploads/', { method: 'POST' });
  discard(res);
  if (res.status !== 202 || !res.headers.location) throw await unexpected(res, 'starting a blob upload');
  return new URL(res.headers.location, session.url('/'));
}

async function finishUpload(session: RegistrySession, location: URL, digest: string, body?: Buffer): Promise<void> {
  const put = new URL(location);
  put.searchParams.set('digest', digest);
  const res = await session.request(put, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: body ?? Buffer.alloc(0),
  });
  if (res.status !== 201) throw await unexpected(res, `committing blob ${digest}`);
  discard(res);
}

async function uploadBuffer(session: RegistrySession, data: Buffer, digest: string): Promise<void> {
  await finishUpload(session, await startUpload(session), digest, data);
}

/** Compresses the stored layer tar with gzip while streaming it to the registry. */
async function uploadLayer(
  deps: PushDeps,
  session: RegistrySession,
  layer: LayerRow,
  started: URL | undefined,
  out: ProgressSink,
): Promise<PushedBlob> {
  const location = started ?? (await startUpload(session));
  const report = progressReporter(out, shortDigest(layer.diffID), 'Pushing', layer.size);
  let read = 0;
  const hash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(c: Buffer, _e, cb) {
      read += c.length;
      report(read);
      cb(null, c);
    },
  });
  const hasher = new Transform({
    transform(c: Buffer, _e, cb) {
      hash.update(c);
      size += c.length;
      cb(null, c);
    },
  });
  const src = deps.store.readLayer(layer.diffID);
  const gzip = createGzip();
  for (const s of [src, counter, gzip]) s.on('error', (err) => hasher.destroy(err));
  // The upload ended early (the push was called off, the registry hung up): the layer's reading
  // and compressing stop too, instead of holding its files open.
  hasher.once('close', () => {
    for (const s of [src, counter, gzip]) s.destroy();
  });
  src.pipe(counter).pipe(gzip).pipe(hasher);
  const res = await session.request(location, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: hasher,
  });
  if (res.status !== 202 && res.status !== 204) throw await unexpected(res, `uploading layer ${layer.diffID}`);
  discard(res);
  if (!hasher.readableEnded) throw new SystemError(`upload of layer ${layer.diffID} ended early`);
  const digest = 'sha256:' + hash.digest('hex');
  const next = res.headers.location ? new URL(res.headers.location, session.url('/')) : location;
  await finishUpload(session, next, digest);
  if (size <= 0) throw new InvalidParameter(`layer ${layer.diffID} is empty`);
  return { mediaType: MediaType.dockerLayerGzip, size, digest };
}
