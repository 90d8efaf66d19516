// docker pull: resolve the reference to a manifest (choosing the platform's entry of a list or
// index), fetch and verify the config, download the missing layers (verified against their
// digests, all at once, each applied from its own connection) and apply each on its parent as
// soon as it and its parent are ready, then commit the image with its tag and RepoDigest.
// Messages as dockerd sends them. A pull whose signal is aborted (its client went away) stops
// its requests, downloads and applies and rolls back, as dockerd's pull ends with its request's
// context; a download another pull still waits on is left to that pull (LayerDownload).
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
import { blobChunks } from './blob-download.js';
import { LayerFeed, NetworkPace } from './layer-feed.js';
import { progressReporter, shortDigest, statusMessage, type ProgressSink } from './progress.js';
import type { Claim, SharedDownloads } from './shared-downloads.js';
import type { BlobSources } from './blob-sources.js';

/**
 * A layer's download left running by a pull that ended before applying it, for another pull
 * waiting on the layer to adopt: its progress goes to whoever `to` names.
 */
export interface LayerDownload {
  feed: LayerFeed;
  to: { out: ProgressSink };
  close(): Promise<void>;
}

export interface PullDeps {
  store: ImageStore;
  registry: RegistryOptions;
  downloads: SharedDownloads<LayerDownload>;
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
  /** Aborted when the client went away: the pull stops, leaving nothing behind. */
  signal?: AbortSignal;
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
  signal?: AbortSignal,
): Promise<RegistrySession> {
  const kept = sessions?.get(ep.url.toString());
  if (kept) return kept;
  const session = new RegistrySession(ep, repo, auth, [`repository:${repo.path}:pull`], signal);
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
  signal?: AbortSignal,
): Promise<ResolvedManifest> {
  const endpoints = endpointsFor(repo.registry, registry);
  let lastErr: unknown;
  for (const ep of endpoints) {
    try {
      const session = await sessionFor(ep, repo, auth, sessions, signal);
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
      if (!ep.mirror || signal?.aborted) break;
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

function deferred(): { done: Promise<void>; resolve(): void; reject(e: unknown): void } {
  let settle!: { resolve(): void; reject(e: unknown): void };
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => {});
  return { done, ...settle };
}

/** The error of a pull called off (dockerd's context error), whatever failed first as it stopped. */
export function cancelledPull(err: unknown): SystemError {
  return new SystemError('context canceled', { cause: err });
}

/** Rejects once `signal` is aborted (never, without one). */
function abortion(signal: AbortSignal | undefined): Promise<never> {
  const p = new Promise<never>((_resolve, reject) => {
    if (signal?.aborted) reject(cancelledPull(signal.reason));
    else signal?.addEventListener('abort', () => reject(cancelledPull(signal.reason)), { once: true });
  });
  p.catch(() => {});
  return p;
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
  const { signal } = req;
  try {
    return await pullLayers(deps, req, out, sessions);
  } catch (err) {
    if (signal?.aborted) throw cancelledPull(err);
    throw err;
  }
}

async function pullLayers(
  deps: PullDeps,
  req: PullRequest,
  out: ProgressSink,
  sessions?: RepositorySessions,
): Promise<boolean> {
  const { signal } = req;
  const repo = repositoryOf(req.name);
  const shownRef = familiar(req.digest ? `${req.name}@${req.digest}` : `${req.name}:${req.tag ?? 'latest'}`);
  const m = await resolveManifest(deps.registry, repo, req, req.platform, req.auth, shownRef, sessions, signal);
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

  // Every missing layer is fetched over its own connection from the start and applied from it
  // when its turn to unpack comes (layer-feed.ts says when its bytes go to a scratch file
  // instead). A layer another pull is fetching is left to it: this one waits until it is stored,
  // or takes the download over if that pull ends first.
  interface Handle {
    claim: Claim<LayerDownload>;
    /** The download this pull applies from: its own, or one it adopted. */
    download?: LayerDownload;
    /** Settles, for pulls that join this one, once the layer is stored (or failed). */
    stored?: { done: Promise<void>; resolve(): void; reject(e: unknown): void };
  }
  const pace = new NetworkPace();
  const handles = new Map<number, Handle>();
  for (const [i, d] of image.layers.entries()) {
    if (present[i]) continue;
    const id = shortDigest(d.digest);
    const joined = deps.downloads.join(d.digest);
    if (joined) {
      handles.set(i, { claim: joined });
      continue;
    }
    const stored = deferred();
    const claim = deps.downloads.claim(d.digest, stored.done);
    if (!deps.downloads.free) out(statusMessage(id, 'Waiting'));
    // Progress goes to the pull applying the layer: this one, or one that adopts the download.
    const to = { out };
    const report = progressReporter((msg) => to.out(msg), id, 'Downloading', d.size);
    const feed = new LayerFeed(
      async function* (feedSignal) {
        // The download's own signal, not the pull's: it may outlive this pull for another.
        yield* blobChunks(session, d, report, feedSignal);
        to.out(statusMessage(id, 'Verifying Checksum'));
        to.out(statusMessage(id, 'Download complete'));
      },
      { scratch: deps.downloads.scratchFile(d.digest), pace, turn: (applying) => deps.downloads.turn(applying) },
    );
    handles.set(i, { claim, download: { feed, to, close: () => feed.close() }, stored });
  }

  // Called off: every download stops at once, except one whose apply has not begun that other
  // pulls wait for (it is left to them below).
  const stopDownloads = () => {
    for (const h of handles.values()) {
      const f = h.download?.feed;
      if (f && (f.applyBegun || !deps.downloads.joined(h.claim))) f.stop();
    }
  };
  if (signal?.aborted) stopDownloads();
  else signal?.addEventListener('abort', stopDownloads, { once: true });
  const aborted = abortion(signal);

  /**
   * Waits until the pull fetching a layer for this one has stored it, or ended without: its
   * download, left running, is then adopted (this pull fetches it now), unless another waiting
   * pull adopted it first (then that one is waited on).
   */
  const waitForOwner = async (h: Handle): Promise<void> => {
    let seen = h.claim.done;
    for (;;) {
      await seen.catch(() => {});
      if (signal?.aborted) return;
      const stored = deferred();
      const adopted = deps.downloads.adopt(h.claim, stored.done);
      if (adopted) {
        adopted.to.out = out;
        h.download = adopted;
        h.stored = stored;
        return;
      }
      if (h.claim.done === seen) return;
      seen = h.claim.done;
    }
  };

  /** The layer's bytes fetched again from the socket (a second apply, or another pull failed). */
  const direct = (d: Descriptor): Readable => {
    const report = progressReporter(out, shortDigest(d.digest), 'Downloading', d.size);
    return Readable.from(blobChunks(session, d, report, signal), { objectMode: false });
  };

  try {
    const layers: IncomingLayer[] = image.layers.map((d, i) => ({
      size: d.size,
      async open(again?: boolean) {
        // Called off: no apply begins (a download not begun stays free for a pull that waits on it).
        signal?.throwIfAborted();
        const h = handles.get(i);
        if (!h) throw new SystemError(`layer ${d.digest} was present when the pull started and is gone`);
        const feed = h.download?.feed;
        // Applied once already (its files could not give its tar back): read again from its
        // scratch file if it was fetched ahead whole, else fetched again. Or another pull was
        // fetching it and did not store it: fetched here.
        if (again) {
          const whole = feed?.again();
          return whole ? { ...whole, signal } : direct(d);
        }
        if (!feed) return direct(d);
        const src = await feed.open(progressReporter(out, shortDigest(d.digest), 'Extracting', d.size));
        // A whole scratch file is read by the unpacking thread: it is told to stop.
        return 'pipe' in src ? src : { ...src, signal };
      },
      applied() {
        const h = handles.get(i);
        if (!h) return;
        out(statusMessage(shortDigest(d.digest), 'Pull complete'));
        h.stored?.resolve();
      },
    }));
    // Wait, before taking the image lock, for layers another pull fetches: that pull needs the
    // lock to store them.
    await Promise.race([Promise.all([...handles.values()].filter((h) => !h.download).map(waitForOwner)), aborted]);
    const refs = req.digest
      ? [`${req.name}@${req.digest}`]
      : [`${req.name}:${req.tag ?? 'latest'}`, `${req.name}@${m.digest}`];
    // A pull called off while another operation holds the lock stops waiting for it.
    const { id, newLayers, before } = await registerImage(deps.store, config, layers, refs, signal);
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
    signal?.removeEventListener('abort', stopDownloads);
    // A download whose apply had not begun is left running for the pulls that wait on it (one
    // adopts it); other downloads stop, and their scratch files go, before the answer. Pulls
    // waiting on a layer this one did not store then adopt it, or fetch it themselves.
    const closing: Promise<void>[] = [];
    for (const h of handles.values()) {
      const dl = h.download;
      if (!dl || !h.stored) continue;
      const leave = !h.claim.orphan && dl.feed.live && !dl.feed.applyBegun && deps.downloads.joined(h.claim);
      if (leave) h.claim.orphan = dl;
      else closing.push(dl.close());
      h.stored.reject(new SystemError('layer not applied'));
    }
    await Promise.all(closing);
    for (const h of handles.values()) deps.downloads.release(h.claim);
  }
}
