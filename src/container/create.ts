// POST /containers/create: validate everything first (name, image, mounts), then make the
// init layer and the writable layer, the volumes (anonymous for VOLUMEs, named ones created
// on demand, filled from the image once unless nocopy), and commit the row last, undoing
// what was made if any step fails. An "incomplete" mark is written before the first step and
// dropped with the row's insert, so a create the daemon did not live to finish is rolled back
// at the next start (recover.ts) from what the mark lists.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { InvalidParameter } from '../errors.js';
import type { MountSpec } from '../mount/spec-types.js';
import { mountAll, unmount } from '../mount/kernel.js';
import { removeTreeNoCross } from '../mount/scratch.js';
import { cleanPath } from '../mount/spec-validate.js';
import { imageVolumeSpec } from '../mount/spec.js';
import type { Ctx } from './context.js';
import { containerDir, emit, nowIso, snapshotKeyOf, ZERO_TIME } from './context.js';
import { nameConflict } from './store.js';
import { generateName, validateName } from './names.js';
import { generateVolumeName } from '../volume/names.js';
import { commandOf, fillHostConfigDefaults, mergeImageConfig } from './config-merge.js';
import { imageContentAt, parseMounts } from './mount-points.js';
import { setupInitLayer } from './etc-files.js';
import type { ContainerRecord } from './types.js';
import { mergeLogConfig } from './log-config.js';
import { applyLayerSizeLimit, layerSizeLimit, releaseLayerSizeLimit } from './storage-opts.js';
import { mountsFromContainers } from './volumes-from.js';
import { validateSecurity } from './security-opts.js';
import { validateHealthcheck } from './health-config.js';
import { configureNetworks, netModeOf } from './networking.js';
import { normalizeLinks } from './links.js';
import { resolveIpcDonor } from './ipc.js';
import { checkPidUts } from './pid-uts.js';
import { prepareImageMounts, resolveImageMounts } from './image-mount.js';

/** The incomplete mark of a create: what it made that the container's ID alone does not name. */
export const CREATE_MARK = 'container-create';
export interface CreateMark {
  /** Anonymous volumes made for it (removed on rollback). */
  volumes: string[];
  /** Volumes it took a reference on (released on rollback). */
  refs: string[];
}

export interface CreateBody {
  Config: Record<string, any>;
  HostConfig: Record<string, any>;
  NetworkingConfig?: unknown;
}

export async function createContainer(
  ctx: Ctx,
  body: CreateBody,
  requestedName: string | null,
  apiVersion: string,
): Promise<ContainerRecord> {
  const config = body.Config;
  validateEnv(config.Env);
  validateSecurity(body.HostConfig);
  const hostConfig = fillHostConfigDefaults(body.HostConfig);
  hostConfig.LogConfig = mergeLogConfig(body.HostConfig.LogConfig ?? undefined, ctx.logConfig);
  checkPidUts(ctx, config, hostConfig);
  resolveIpcDonor(ctx, hostConfig);
  let name = requestedName ? validateName(requestedName) : '';
  if (name) {
    const other = ctx.store.byName(name);
    if (other) throw nameConflict(name, other.id);
  }
  validateHealthcheck(config.Healthcheck);
  if (!config.Image) throw new InvalidParameter('No image was specified');
  const image = await ctx.images.resolve(String(config.Image));
  const policy = hostConfig.RestartPolicy?.Name ?? '';
  if (hostConfig.AutoRemove && policy !== '' && policy !== 'no') {
    throw new InvalidParameter("can't create 'AutoRemove' container with restart policy");
  }
  const sizeLimit = layerSizeLimit(
    hostConfig.StorageOpt,
    ctx.snapshotter.driver,
    path.join(ctx.dataRoot, 'snapshots', ctx.snapshotter.driver),
  );
  const merged = mergeImageConfig(config, image.config.config);
  const networks = configureNetworks(ctx, merged, hostConfig, body.NetworkingConfig);
  const cmd = commandOf(merged);
  if (cmd.length === 0) throw new InvalidParameter('No command specified');
  const specs = parseMounts(
    {
      Binds: hostConfig.Binds ?? undefined,
      Mounts: hostConfig.Mounts ?? undefined,
      Tmpfs: hostConfig.Tmpfs ?? undefined,
      VolumeDriver: hostConfig.VolumeDriver || undefined,
    },
    apiVersion,
    ctx.dataRoot,
  );
  specs.push(...mountsFromContainers(ctx.store, hostConfig.VolumesFrom, specs));
  const imageMounts = await resolveImageMounts(ctx.images, specs);
  for (const dest of Object.keys(merged.Volumes ?? {})) {
    const d = cleanPath(dest);
    if (!d.startsWith('/')) throw new InvalidParameter(`invalid mount path: '${dest}' mount path must be absolute`);
    if (specs.some((s) => s.destination === d)) continue;
    specs.push({ ...imageVolumeSpec(d), driver: hostConfig.VolumeDriver || 'local' });
  }

  const id = randomBytes(32).toString('hex');
  if (!name) name = generateName((n) => ctx.store.byName(n) !== undefined);
  hostConfig.Links = normalizeLinks(ctx, hostConfig, name);
  // On the host's network dockerd names the container after the host (its own UTS namespace still).
  merged.Hostname ||= netModeOf(hostConfig).kind === 'host' ? os.hostname() : id.slice(0, 12);
  merged.Image = config.Image;
  const dir = containerDir(ctx, id);
  const rec: ContainerRecord = {
    id,
    name,
    imageId: image.id,
    imageRef: String(config.Image),
    snapshotKey: snapshotKeyOf(id),
    rootfsPath: path.join(dir, 'merged'),
    config: merged,
    hostConfig,
    mounts: specs,
    state: {
      Status: 'created',
      Running: false,
      Pid: 0,
      ExitCode: 0,
      Error: '',
      StartedAt: ZERO_TIME,
      FinishedAt: ZERO_TIME,
    },
    created: nowIso(),
    path: cmd[0],
    args: cmd.slice(1),
    initSnapshot: `container-${id}-init`,
    restartCount: 0,
    execIds: [],
    networks,
  };

  const undo: (() => Promise<unknown>)[] = [];
  const made: CreateMark = { volumes: [], refs: [] };
  ctx.incomplete.begin(CREATE_MARK, id, made);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o710 });
    undo.push(async () => removeTreeNoCross(dir));
    await prepareLayers(ctx, rec, image.topChainID, undo);
    if (sizeLimit > 0) {
      await applyLayerSizeLimit(ctx.snapshotter, rec.snapshotKey, sizeLimit, ctx.projectIds);
      undo.push(async () => releaseLayerSizeLimit(ctx.snapshotter, rec.snapshotKey, ctx.projectIds));
    }
    await prepareImageMounts(ctx.snapshotter, id, imageMounts, undo);
    await setupVolumes(ctx, rec, undo, made);
    ctx.incomplete.transaction(() => {
      ctx.store.insert(rec);
      ctx.incomplete.end(CREATE_MARK, id);
    });
  } catch (err) {
    for (const u of undo.reverse()) await u().catch((e: unknown) => ctx.log.warn(`create ${id}: undo: ${e}`));
    ctx.incomplete.end(CREATE_MARK, id);
    throw err;
  }
  emit(ctx, 'create', rec);
  return rec;
}

/** The init layer (committed) and the writable layer on it. */
async function prepareLayers(
  ctx: Ctx,
  rec: ContainerRecord,
  parent: string | undefined,
  undo: (() => Promise<unknown>)[],
): Promise<void> {
  const initKey = `${rec.initSnapshot}-prepare`;
  const initMounts = await ctx.snapshotter.prepare(initKey, parent, { 'strata.container': rec.id });
  let committed = false;
  undo.push(async () => {
    if (!committed) await ctx.snapshotter.remove(initKey);
  });
  const tmp = path.join(ctx.dataRoot, 'tmp', `init-${rec.id}`);
  fs.mkdirSync(tmp, { recursive: true });
  try {
    await mountAll(initMounts, tmp);
    try {
      setupInitLayer(tmp);
    } finally {
      await unmount(tmp);
    }
  } finally {
    removeTreeNoCross(tmp);
  }
  await ctx.snapshotter.commit(rec.initSnapshot!, initKey, { 'strata.container': rec.id });
  committed = true;
  undo.push(async () => ctx.snapshotter.remove(rec.initSnapshot!));
  await ctx.snapshotter.prepare(rec.snapshotKey, rec.initSnapshot, { 'strata.container': rec.id });
  undo.push(async () => ctx.snapshotter.remove(rec.snapshotKey));
}

/** Names anonymous volumes, creates named ones, fills empty ones from the image, and references them all. */
async function setupVolumes(
  ctx: Ctx,
  rec: ContainerRecord,
  undo: (() => Promise<unknown>)[],
  made: CreateMark,
): Promise<void> {
  const volumeSpecs = rec.mounts.filter((m): m is MountSpec => m.type === 'volume');
  if (volumeSpecs.length === 0) return;
  for (const m of volumeSpecs) {
    if (m.source) {
      await ctx.volumes.create({
        name: m.source,
        driver: m.driver || undefined,
        driverOpts: m.driverOptions ?? {},
        labels: m.volumeLabels ?? {},
      });
    } else {
      // Named before it exists, so the mark lists it before any crash could leave it behind.
      const anonName = generateVolumeName();
      made.volumes.push(anonName);
      ctx.incomplete.note(CREATE_MARK, rec.id, made);
      const v = await ctx.volumes.create({
        name: anonName,
        driver: m.driver || undefined,
        driverOpts: m.driverOptions ?? {},
        labels: m.volumeLabels ?? {},
        anonymous: true,
      });
      m.source = v.name;
      (rec.anonymousVolumes ??= []).push(v.name);
      undo.push(async () => ctx.volumes.remove(v.name, { force: true }));
    }
    made.refs.push(m.source);
    ctx.incomplete.note(CREATE_MARK, rec.id, made);
    ctx.volumes.reference(m.source, rec.id);
    undo.push(async () => ctx.volumes.release(m.source, rec.id));
  }
  const toFill = volumeSpecs.filter((m) => !m.noCopy && !m.subpath);
  if (toFill.length === 0) return;
  // The image's content at each mount point: read through a temporary mount of the new layer.
  const tmp = path.join(ctx.dataRoot, 'tmp', `populate-${rec.id}`);
  fs.mkdirSync(tmp, { recursive: true });
  try {
    await mountAll(await ctx.snapshotter.mounts(rec.snapshotKey), tmp);
    try {
      for (const m of toFill) {
        const from = imageContentAt(tmp, m.destination);
        if (from) await ctx.volumes.populate(m.source, from);
      }
    } finally {
      await unmount(tmp);
    }
  } finally {
    removeTreeNoCross(tmp);
  }
}

/** dockerd refuses an entry with no name before the `=` ("=foo", "=", ""), before it looks at the image. */
function validateEnv(env: unknown): void {
  if (!Array.isArray(env)) return;
  for (const e of env) {
    if (String(e).split('=')[0] === '') throw new InvalidParameter(`invalid environment variable: ${String(e)}`);
  }
}
