// The distribution service: pull, push, login and the registry's view of a reference
// (GET /distribution/{name}/json), over the image store. Built once by the daemon, which hands
// it the registry settings of daemon.json.
import path from 'node:path';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { EventBus } from '../system/events.js';
import type { ImageStore } from '../image/service.js';
import { parseNormalizedNamed } from '../image/reference.js';
import { readBody } from './http-client.js';
import type { AuthConfig } from './auth.js';
import { repositoryOf, type RegistryOptions } from './endpoint.js';
import { parsePlatform, type Platform } from './manifest.js';
import { pull, resolveManifest, type LayerDownload, type PullDeps } from './pull.js';
import { pullAllTags } from './pull-all.js';
import { push } from './push.js';
import { login } from './login.js';
import { BlobSources } from './blob-sources.js';
import { SharedDownloads } from './shared-downloads.js';
import type { ProgressSink } from './progress.js';
import { InvalidParameter, SystemError } from '../errors.js';
import type { DistributionBackend } from './backend.js';
import { heavyOperation } from '../util/release-memory.js';

export interface DistributionDeps {
  db: MetaDb;
  dataRoot: string;
  images: ImageStore;
  events: Pick<EventBus, 'emitEvent'>;
  log: Logger;
  registry: RegistryOptions;
}

export class DistributionService implements DistributionBackend {
  private readonly blobs: BlobSources;
  private readonly downloads: SharedDownloads<LayerDownload>;

  constructor(private readonly deps: DistributionDeps) {
    this.blobs = new BlobSources(deps.db);
    // Under the data-root's tmp/, which startup empties: a crash leaves no half blob behind.
    this.downloads = new SharedDownloads<LayerDownload>(path.join(deps.dataRoot, 'tmp', 'pull'));
  }

  private emit = (action: string, id: string, attrs: Record<string, string>) =>
    this.deps.events.emitEvent('image', action, id, attrs);

  private get pullDeps(): PullDeps {
    return {
      store: this.deps.images,
      registry: this.deps.registry,
      downloads: this.downloads,
      blobs: this.blobs,
      emitEvent: this.emit,
    };
  }

  /** `ref` as the API's fromImage (+tag) names it; tag may be a digest. */
  async pull(
    ref: string,
    platform: string | null | undefined,
    auth: AuthConfig,
    out: ProgressSink,
    signal?: AbortSignal,
  ): Promise<void> {
    const r = parseNormalizedNamed(ref);
    // The layers' buffers are given back to the system once the pull ends.
    const done = heavyOperation();
    try {
      await pull(
        this.pullDeps,
        {
          name: r.name,
          tag: r.digest ? undefined : r.tag,
          digest: r.digest,
          platform: parsePlatform(platform),
          auth,
          signal,
        },
        out,
      );
    } finally {
      done();
    }
  }

  async pullAllTags(
    name: string,
    platform: string | null | undefined,
    auth: AuthConfig,
    out: ProgressSink,
    signal?: AbortSignal,
  ): Promise<void> {
    const r = parseNormalizedNamed(name);
    if (r.tag || r.digest) throw new InvalidParameter(`${name}: all tags are pulled by the repository's name alone`);
    const done = heavyOperation();
    try {
      await pullAllTags(this.pullDeps, { name: r.name, platform: parsePlatform(platform), auth, signal }, out);
    } finally {
      done();
    }
  }

  async push(
    name: string,
    tag: string | undefined,
    auth: AuthConfig,
    out: ProgressSink,
    signal?: AbortSignal,
  ): Promise<void> {
    const r = parseNormalizedNamed(name);
    await push(
      { store: this.deps.images, registry: this.deps.registry, blobs: this.blobs, emitEvent: this.emit },
      { name: r.name, tag: tag || r.tag, digest: r.digest, auth, signal },
      out,
    );
  }

  login(auth: AuthConfig): Promise<{ IdentityToken: string; Status: string }> {
    return login(this.deps.registry, auth);
  }

  /** The manifest a reference names and the platforms it offers (docker buildx imagetools / service create). */
  async inspect(ref: string, auth: AuthConfig): Promise<Record<string, unknown>> {
    // An image ID names no repository to ask (dockerd answers this before any parsing).
    if (/^(sha256:)?[a-f0-9]{64}$/.test(ref)) throw new SystemError('no manifest found for full image ID');
    const r = parseNormalizedNamed(ref);
    const repo = repositoryOf(r.name);
    const shown = r.digest ? `${r.name}@${r.digest}` : `${r.name}:${r.tag ?? 'latest'}`;
    const m = await resolveManifest(this.deps.registry, repo, { tag: r.tag, digest: r.digest }, null, auth, shown);
    let platforms: Platform[] = [];
    let descriptor: Record<string, unknown>;
    if (m.top.kind === 'image') {
      const res = await m.session.request(`blobs/${m.top.config.digest}`);
      const cfg = JSON.parse((await readBody(res, 16 << 20)).toString('utf8')) as {
        os?: string;
        architecture?: string;
        variant?: string;
      };
      platforms = [
        { architecture: cfg.architecture ?? '', os: cfg.os ?? '', ...(cfg.variant ? { variant: cfg.variant } : {}) },
      ];
      descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    } else {
      platforms = m.top.manifests.filter((d) => d.platform).map((d) => ({ ...d.platform! }));
      descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    }
    return { Descriptor: descriptor, Platforms: platforms };
  }
}
