// docker commit: the container's writable layer becomes one more image layer on its image, and
// the container's config (or the request's), with `--change` instructions applied and the gaps
// filled from the container's config as dockerd's merge does, becomes the image's config.
import type { ContainerOpsDeps } from './ops-deps.js';
import { exportLayerSized, prepareLayerApply } from '../archive/index.js';
import { parseNormalizedNamed } from '../image/reference.js';
import { applyConfigChanges } from '../image/config-changes.js';
import type { ImageRunConfig } from '../image/types.js';
import type { ContainerRecord } from './types.js';
import type { Readable } from 'node:stream';
import { inOperation } from '../util/no-space.js';
import { heavyOperation } from '../util/release-memory.js';

export interface CommitOptions {
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  /** Dockerfile instructions (`docker commit --change`). */
  changes?: string[];
  /** The request body: a container config replacing the container's own as the starting point. */
  config?: Record<string, unknown> | null;
}

/** `docker commit`: the layer's buffers are given back to the system once it ends. */
export async function commitContainer(
  engine: ContainerOpsDeps,
  ref: string,
  opts: CommitOptions,
): Promise<{ Id: string }> {
  const done = heavyOperation();
  try {
    return await commitNow(engine, ref, opts);
  } finally {
    done();
  }
}

async function commitNow(engine: ContainerOpsDeps, ref: string, opts: CommitOptions): Promise<{ Id: string }> {
  const rec = await engine.containers.get(ref);
  const tag = referenceOf(opts.repo ?? '', opts.tag ?? '');
  const containerConfig = rec.config as ImageRunConfig;
  // An empty body ({} or null) means "the container's config", as dockerd decodes it.
  const base = opts.config && Object.keys(opts.config).length > 0 ? (opts.config as ImageRunConfig) : containerConfig;
  const config = mergeConfig(applyConfigChanges(base, opts.changes ?? []), containerConfig);

  // Right after an exit the rootfs may still be unmounting: the layer is read after that. The
  // new layer is unpacked on a thread of its own, started meanwhile.
  prepareLayerApply();
  await engine.containers.tornDown(rec.id);
  const { stream: layer, diffSize } = exportLayerSized(await engine.snapshotter.diffSource(rec.snapshotKey));
  try {
    return await commitLayer(engine, rec, layer, diffSize, config, containerConfig, tag, opts);
  } catch (err) {
    // Whatever failed, the export is closed now: it holds the container's files open.
    layer.destroy();
    throw inOperation('commit', err, 'layer');
  }
}

async function commitLayer(
  engine: ContainerOpsDeps,
  rec: ContainerRecord,
  layer: Readable,
  layerSize: () => number,
  config: ImageRunConfig,
  containerConfig: ImageRunConfig,
  tag: string | undefined,
  opts: CommitOptions,
): Promise<{ Id: string }> {
  const history: { created_by: string; author?: string; comment?: string } = {
    created_by: ((containerConfig.Cmd ?? []) as string[]).join(' '),
  };
  if (opts.author) history.author = opts.author;
  if (opts.comment) history.comment = opts.comment;
  const image = await engine.images.create({
    parentId: rec.imageId,
    layer,
    layerSize,
    config,
    history,
    extra: {
      container: rec.id,
      container_config: containerConfig,
      author: opts.author ?? '',
      comment: opts.comment ?? '',
    },
    ...(tag ? { tag } : {}),
  });
  engine.events.emitEvent('container', 'commit', rec.id, {
    comment: opts.comment ?? '',
    imageID: image.id,
    imageRef: tag ?? '',
    name: rec.name,
  });
  return { Id: image.id };
}

/** repo + tag as one reference (tag "latest" by default); a tag without a repo is ignored, as dockerd does. */
function referenceOf(repo: string, tag: string): string | undefined {
  if (repo === '') return undefined;
  const full = `${repo}:${tag || 'latest'}`;
  parseNormalizedNamed(full);
  return full;
}

/** dockerd's merge(userConf, imageConf): fills what the new config leaves empty from the container's. */
export function mergeConfig(user: ImageRunConfig, container: ImageRunConfig): ImageRunConfig {
  const out: ImageRunConfig = { ...user };
  if (!out.User) out.User = container.User ?? '';
  const ports = out.ExposedPorts;
  if (!ports || Object.keys(ports).length === 0) out.ExposedPorts = container.ExposedPorts ?? null;
  else out.ExposedPorts = { ...(container.ExposedPorts ?? {}), ...ports };
  if (!out.Env || out.Env.length === 0) out.Env = container.Env ?? null;
  else {
    const keys = new Set(out.Env.map((e) => e.split('=')[0]));
    out.Env = [...out.Env, ...(container.Env ?? []).filter((e) => !keys.has(e.split('=')[0]))];
  }
  out.Labels = { ...(container.Labels ?? {}), ...(out.Labels ?? {}) };
  if (!out.Entrypoint || out.Entrypoint.length === 0) {
    if (!out.Cmd || out.Cmd.length === 0) out.Cmd = container.Cmd ?? null;
    if (out.Entrypoint === undefined || out.Entrypoint === null) out.Entrypoint = container.Entrypoint ?? null;
  }
  if (container.Healthcheck) {
    if (!out.Healthcheck) out.Healthcheck = container.Healthcheck;
    else {
      const hc = { ...(out.Healthcheck as Record<string, unknown>) };
      for (const [k, v] of Object.entries(container.Healthcheck as Record<string, unknown>)) {
        if (
          hc[k] === undefined ||
          hc[k] === 0 ||
          hc[k] === null ||
          (Array.isArray(hc[k]) && (hc[k] as unknown[]).length === 0)
        )
          hc[k] = v;
      }
      out.Healthcheck = hc;
    }
  }
  if (!out.WorkingDir) out.WorkingDir = container.WorkingDir ?? '';
  const vols = out.Volumes;
  if (!vols || Object.keys(vols).length === 0) out.Volumes = container.Volumes ?? null;
  else out.Volumes = { ...vols, ...(container.Volumes ?? {}) };
  if (!out.StopSignal && container.StopSignal) out.StopSignal = container.StopSignal;
  return out;
}
