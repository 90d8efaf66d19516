// docker pull: resolve the reference to a manifest (choosing the platform's entry of a list or
// index), fetch and verify the config, download the missing layers (verified against their
// digests, several at once) and apply each on its parent as soon as it and its parent are
// ready, then commit the image with its tag and RepoDigest. Messages as dockerd sends them.
import { Readable } from 'node:stream';
import { InvalidParameter, NotFound, StrataError, SystemError } from '../errors.js';
import type { ImageStore } from '../image/service.js';
import { familiar } from '../image/reference.js';
import { sha256 } from '../image/digest.js';
import { chainIDsOf, diffIDsOf, hasLayer, registerImage, type IncomingLayer } from '../image/register.js';
import type { AuthConfig } from './auth.js';
import { endpointsFor, repositoryOf, type Endpoint, type RegistryOptions, type Repository } from './endpoint.js';
import { RegistrySession } from './session.js';
import { readBody } from './http-client.js';
import {
  chooseManifest,
  MANIFEST_ACCEPT,
  parseManifest,
  platformString,
  type Descriptor,
  type Manifest,
  type Platform,
} from './manifest.js';
import { registryErrorText, unexpected } from './registry-error.js';
import { blobChunks, downloadBlob } from './blob-download.js';
import { progressReporter, shortDigest, statusMessage, type ProgressSink } from './progress.js';
import type { SharedDownloads } from './shared-downloads.js';
import type { BlobSources } from './blob-sources.js';

export interface PullDeps {
  store: ImageStore;
  registry: RegistryOptions;
  downloads: SharedDownloads;
  blobs: BlobSources;
  emitEvent(action: string, id: string, attrs: Record<string, string>): void;
}

export interface PullRequest {
  /** Normalized repository name (docker.io/library/busybox). */
  name: string;
  tag?: string;
  digest?: string;
  platform: Platform;
  auth: AuthConfig;
}

export interface ResolvedManifest {
  session: RegistrySession;
  /** Digest of what the reference names (a list's digest when it names a list). */
  digest: string;
  mediaType: string;
  size: number;
  /** The image manifest chosen for the platform (none when asked for no platform). */
  image?: Manifest & { kind: 'image' };
  /** Platforms a list offers (or the one image's). */
  top: Manifest;
}

const MAX_MANIFEST = 4 << 20;

async function fetchManifest(
  session: RegistrySession,
  ref: string,
  display: string,
  expected?: string,
): Promise<{ raw: Buffer; digest: string; contentType?: string }> {
  const res = await session.request(`manifests/${ref}`, {
    headers: { Accept: MANIFEST_ACCEPT },
    shownMethod: ref.startsWith('sha256:') ? 'GET' : 'HEAD',
  });
  if (res.status === 404) {
    const text = await registryErrorText(res);
    throw new NotFound(`manifest for ${display} not found: ${text ?? 'manifest unknown: manifest unknown'}`);
  }
  if (res.status === 401 || res.status === 403) {
    // Never a 401 to the client (the docker CLI would prompt for a login): a refusal that could
    // mean "no such repository" is dockerd's not-found; wrong credentials are its plain error.
    const text = (await registryErrorText(res)) ?? 'unauthorized: authentication required';
    if (/^denied|insufficient_scope/.test(text) || res.status === 403) {
      throw new NotFound(
        `pull access denied for ${display.replace(/[:@][^/:]*$/, '')}, repository does not exist or may require 'docker login': ${text}`,
      );
    }
    throw new SystemError(text);
  }
  if (res.status !== 200) throw await unexpected(res, `error fetching manifest for ${display}`);
  const raw = await readBody(res, MAX_MANIFEST);
  const digest = sha256(raw);
  const header = res.headers['docker-content-digest'];
  if (expected && digest !== expected)
    throw new InvalidParameter(`manifest verification failed for digest ${expected}`);
  if (!expected && typeof header === 'string' && header.startsWith('sha256:') && header !== digest) {
    throw new InvalidParameter(`manifest verification failed for digest ${header}`);
  }
  return { raw, digest, contentType: res.headers['content-type'] };
}

/**
 * Sessions of one repository by endpoint URL, each pinged once, kept across the pulls of one
 * `pull --all-tags` so that its tags share the ping and the token instead of each opening its own.
 */
export type RepositorySessions = Map<string, RegistrySession>;

/** The session for `ep`: one of `sessions`, or a new one, pinged (and then kept there). */
export async function sessionFor(
  ep: Endpoint,
  repo: Repository,
  auth: AuthConfig,
  sessions?: RepositorySessions,
): Promise<RegistrySession> {
  const kept = sessions?.get(ep.url.toString());
  if (kept) return kept;
  const session = new RegistrySession(ep, repo, auth, [`repository:${repo.path}:pull`]);
  // dockerd pings /v2/ first: a registry it cannot reach is named by that URL.
  await session.probe();
  sessions?.set(ep.url.toString(), session);
  return session;
}

/** Finds the manifest a reference names on the first endpoint that answers (mirrors first). */
export async function resolveManifest(
  registry: RegistryOptions,
  repo: Repository,
  ref: { tag?: string; digest?: string },
  platform: Platform | null,
  auth: AuthConfig,
  display: string,
  sessions?: RepositorySessions,
): Promise<ResolvedManifest> {
  const endpoints = endpointsFor(repo.registry, registry);
  let lastErr: unknown;
  for (const ep of endpoints) {
    try {
      const session = await sessionFor(ep, repo, auth, sessions);
      const top = await fetchManifest(session, ref.digest ?? ref.tag ?? 'latest', display, ref.digest);
      const parsed = parseManifest(top.raw, top.contentType);
      let image: Manifest | undefined = parsed;
      if (parsed.kind === 'index' && !platform) image = undefined;
      else if (parsed.kind === 'index' && platform) {
        const entry = chooseManifest(parsed, platform);
        const inner = await fetchManifest(session, entry.digest, display, entry.digest);
        image = parseManifest(inner.raw, inner.contentType);
        if (image.kind !== 'image')
          throw new InvalidParameter(
            `manifest ${entry.digest} for ${platformString(platform)} is not an image manifest`,
          );
      }
      return {
        session,
        digest: top.digest,
        mediaType: parsed.mediaType,
        size: top.raw.length,
        image: image as (Manifest & { kind: 'image' }) | undefined,
        top: parsed,
      };
    } catch (err) {
      lastErr = err;
      if (!ep.mirror) break;
    }
  }
  throw lastErr;
}

async function fetchConfig(session: RegistrySession, desc: Descriptor): Promise<Buffer> {
  const res = await session.request(`blobs/${desc.digest}`);
  if (res.status !== 200) throw await unexpected(res, `error fetching image config ${desc.digest}`);
  const raw = await readBody(res, 16 << 20);
  if (sha256(raw) !== desc.digest)
    throw new InvalidParameter(`image config verification failed for digest ${desc.digest}`);
  return raw;
}

/** One reference pulled, ending with dockerd's `Status:` line and the pull event. */
export async function pull(deps: PullDeps, req: PullRequest, out: ProgressSink): Promise<void> {
  const shownRef = familiar(req.digest ? `${req.name}@${req.digest}` : `${req.name}:${req.tag ?? 'latest'}`);
  const updated = await pullReference(deps, req, out);
  out({ status: `Status: ${updated ? 'Downloaded newer image' : 'Image is up to date'} for ${shownRef}` });
  deps.emitEvent('pull', shownRef, { name: shownRef });
}

/**
 * Pulls what one tag or digest names, up to its `Digest:` line; true when the reference now
 * names another image than before (new layers, or a tag or digest it did not name).
 */
export async function pullReference(
  deps: PullDeps,
  req: PullRequest,
  out: ProgressSink,
  sessions?: RepositorySessions,
): Promise<boolean> {
  const repo = repositoryOf(req.name);
  const shownRef = familiar(req.digest ? `${req.name}@${req.digest}` : `${req.name}:${req.tag ?? 'latest'}`);
  const m = await resolveManifest(deps.registry, repo, req, req.platform, req.auth, shownRef, sessions);
  const { session } = m;
  const image = m.image!;
  // A tag is named by itself; a digest by the whole familiar reference, as dockerd does.
  out({ status: `Pulling from ${repo.path}`, id: req.digest ? shownRef : (req.tag ?? 'latest') });

  // An image already stored is not fetched again, its config included (dockerd stops there too).
  const config = deps.store.rows.get(image.config.digest)?.config ?? (await fetchConfig(session, image.config));
  const diffIDs = diffIDsOf(config);
  if (diffIDs.length !== image.layers.length) {
    throw new InvalidParameter(
      `invalid manifest, layers length mismatch: expected ${diffIDs.length}, got ${image.layers.length}`,
    );
  }
  const chains = chainIDsOf(diffIDs);
  const present = chains.map((c) => hasLayer(deps.store, c));
  // An image already stored needs no word about its layers (dockerd says nothing either).
  const known = !!deps.store.rows.get(sha256(config)) && present.every(Boolean);
  // A layer counts as present only when every layer below it is too (its chainID says so).
  if (!known)
    for (const [i, d] of image.layers.entries())
      out(statusMessage(shortDigest(d.digest), present[i] ? 'Already exists' : 'Pulling fs layer'));

  // The first missing layer is applied straight from the socket while the others are fetched
  // ahead into scratch files; each is applied once it and its parent are ready.
  const handles = new Map<
    number,
    { digest: string; file: string; done: Promise<void>; stream?: { resolve(): void; reject(e: unknown): void } }
  >();
  for (const [i, d] of image.layers.entries()) {
    if (present[i]) continue;
    const id = shortDigest(d.digest);
    if (![...handles.values()].some((h) => h.stream) && !deps.downloads.has(d.digest)) {
      let stream!: { resolve(): void; reject(e: unknown): void };
      const done = new Promise<void>((resolve, reject) => {
        stream = { resolve, reject };
      });
      done.catch(() => {});
      deps.downloads.claimStream(d.digest, done);
      handles.set(i, { digest: d.digest, file: '', done, stream });
      continue;
    }
    if ([...handles.values()].filter((h) => !h.stream).length >= deps.downloads.limit)
      out(statusMessage(id, 'Waiting'));
    const report = progressReporter(out, id, 'Downloading', d.size);
    const h = deps.downloads.acquire(
      d.digest,
      (file, signal) => downloadBlob(session, d, file, report, signal),
      () => {},
    );
    const done = h.done.then(() => {
      if (!h.joined) out(statusMessage(id, 'Verifying Checksum'));
      out(statusMessage(id, 'Download complete'));
    });
    done.catch(() => {});
    handles.set(i, { digest: d.digest, file: h.file, done });
  }

  /** The layer's bytes from the socket, telling whoever waits on `stream` how it ended. */
  const direct = (d: Descriptor, stream?: { resolve(): void; reject(e: unknown): void }): Readable => {
    const id = shortDigest(d.digest);
    const report = progressReporter(out, id, 'Downloading', d.size);
    async function* chunks(): AsyncGenerator<Buffer> {
      let settled = false;
      try {
        yield* blobChunks(session, d, report);
        settled = true;
        out(statusMessage(id, 'Verifying Checksum'));
        out(statusMessage(id, 'Download complete'));
        stream?.resolve();
      } catch (err) {
        settled = true;
        stream?.reject(err);
        throw err;
      } finally {
        if (!settled) stream?.reject(new SystemError('layer not applied'));
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  };

  try {
    const layers: IncomingLayer[] = image.layers.map((d, i) => ({
      async open(again?: boolean) {
        const h = handles.get(i);
        if (!h) throw new SystemError(`layer ${d.digest} was present when the pull started and is gone`);
        // Applied once already (its files could not give its tar back): a blob applied from the
        // socket is fetched again; one fetched into a file is read from it again.
        if (again && (h.stream || !h.file)) return direct(d);
        if (h.stream) return direct(d, h.stream);
        if (!h.file) {
          // Another pull was applying it from its socket and did not finish: fetch it here.
          await h.done.catch(() => {});
          return direct(d);
        }
        await h.done;
        // Verified as it was fetched; the unpacking thread reads it itself.
        return { file: h.file, onProgress: progressReporter(out, shortDigest(d.digest), 'Extracting', d.size) };
      },
      applied() {
        if (handles.has(i)) out(statusMessage(shortDigest(d.digest), 'Pull complete'));
      },
    }));
    // Wait, before taking the image lock, for layers another pull applies from its socket: that
    // pull needs the lock to finish them.
    await Promise.all([...handles.values()].filter((h) => !h.stream && !h.file).map((h) => h.done.catch(() => {})));
    const refs = req.digest
      ? [`${req.name}@${req.digest}`]
      : [`${req.name}:${req.tag ?? 'latest'}`, `${req.name}@${m.digest}`];
    const { id, newLayers, before } = await registerImage(deps.store, config, layers, refs);
    for (const [i, d] of image.layers.entries()) {
      deps.blobs.add({
        diffID: diffIDs[i]!,
        digest: d.digest,
        mediaType: d.mediaType,
        size: d.size,
        registry: repo.registry,
        repository: repo.path,
      });
    }
    out({ status: `Digest: ${m.digest}` });
    return newLayers > 0 || before[0] !== id;
  } catch (err) {
    if (err instanceof StrataError) throw err;
    throw new SystemError((err as Error).message);
  } finally {
    // A stream never opened (the pull failed first, or another pull stored the layer) ends here.
    for (const h of handles.values()) h.stream?.reject(new SystemError('layer not applied'));
    // Downloads no other pull shares are stopped and their files removed before the answer.
    await Promise.all([...handles.values()].map((h) => deps.downloads.release(h.digest, h.file).catch(() => {})));
  }
}
