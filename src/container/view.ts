// What inspect and ps show: Docker 20.10's JSON shapes, built from a record (and, with
// size=1, the snapshotter's usage of the writable layer).
import { configJson, hostConfigJson } from './inspect-defaults.js';
import type { Ctx } from './context.js';
import { containerDir } from './context.js';
import { inspectLogPath } from './log-target.js';
import { inspectMounts } from './mount-points.js';
import { stagingDirOf } from '../mount/staging.js';
import type { ContainerRecord } from './types.js';
import { healthText } from './health-config.js';
import { networkSettingsJson, psPorts } from './networking.js';
import { linkNamesByChild } from './links.js';

export async function sizes(
  ctx: Ctx,
  rec: ContainerRecord,
  memo?: ListMemo,
): Promise<{ SizeRw: number; SizeRootFs: number }> {
  let rw = 0;
  try {
    rw = (await ctx.snapshotter.usage(rec.snapshotKey)).size;
  } catch {
    /* removed meanwhile */
  }
  const imageSize = await (memo ? memo.imageSize(rec.imageId) : imageSizeOf(ctx, rec.imageId));
  return { SizeRw: rw, SizeRootFs: rw + imageSize };
}

async function imageSizeOf(ctx: Ctx, imageId: string): Promise<number> {
  try {
    return (await ctx.images.resolve(imageId)).size;
  } catch {
    return 0; // image gone
  }
}

/**
 * What a listing of many containers looks up once instead of once per container: the size of
 * each image (an image lookup reads its row and its tags) and the link names pointing at each
 * container (otherwise a scan of every container's links for each container listed).
 */
export interface ListMemo {
  imageSize(imageId: string): Promise<number>;
  linkNames(rec: ContainerRecord): string[];
}

export function listMemo(ctx: Ctx): ListMemo {
  const imageSizes = new Map<string, Promise<number>>();
  let links: Map<string, string[]> | undefined;
  return {
    imageSize(imageId) {
      let size = imageSizes.get(imageId);
      if (!size) imageSizes.set(imageId, (size = imageSizeOf(ctx, imageId)));
      return size;
    },
    linkNames(rec) {
      links ??= linkNamesByChild(ctx);
      return [...(links.get(rec.name) ?? [])].sort();
    },
  };
}

export async function inspectJson(ctx: Ctx, rec: ContainerRecord, withSize: boolean): Promise<Record<string, unknown>> {
  const dir = containerDir(ctx, rec.id);
  let graph: unknown = { Data: null, Name: ctx.snapshotter.driver };
  try {
    graph = await ctx.snapshotter.graphDriverData(rec.snapshotKey, rec.rootfsPath);
  } catch {
    /* removed meanwhile */
  }
  const hostConfig = rec.hostConfig;
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.path,
    Args: rec.args ?? [],
    State: {
      Status: rec.state.Status,
      Running: rec.state.Running,
      Paused: rec.state.Status === 'paused',
      Restarting: rec.state.Status === 'restarting',
      OOMKilled: false,
      Dead: rec.state.Status === 'dead',
      Pid: rec.state.Pid,
      ExitCode: rec.state.ExitCode,
      Error: rec.state.Error,
      StartedAt: rec.state.StartedAt,
      FinishedAt: rec.state.FinishedAt,
      ...(rec.state.Health ? { Health: rec.state.Health } : {}),
    },
    Image: rec.imageId,
    ResolvConfPath: `${dir}/resolv.conf`,
    HostnamePath: `${dir}/hostname`,
    HostsPath: `${dir}/hosts`,
    LogPath: inspectLogPath(containerDir(ctx, rec.id), rec.id, rec.hostConfig.LogConfig?.Type),
    Name: `/${rec.name}`,
    RestartCount: rec.restartCount ?? 0,
    Driver: ctx.snapshotter.driver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: rec.execIds && rec.execIds.length > 0 ? rec.execIds : null,
    HostConfig: hostConfigJson(hostConfig),
    GraphDriver: graph,
    ...(withSize ? await sizes(ctx, rec) : {}),
    Mounts: await inspectMounts(
      rec.mounts,
      ctx.volumes,
      rec.state.Running ? stagingDirOf(ctx.dataRoot, rec.id) : undefined,
    ),
    Config: configJson(rec.config),
    NetworkSettings: networkSettingsJson(rec, ctx.networking?.attachmentOf(rec.id)?.netnsPath),
  };
}

export async function listJson(
  ctx: Ctx,
  rec: ContainerRecord,
  withSize: boolean,
  memo: ListMemo = listMemo(ctx),
): Promise<Record<string, unknown>> {
  // ps leaves a volume's Source empty, unlike inspect.
  const mounts = (await inspectMounts(rec.mounts, ctx.volumes)).map((m) =>
    m.Type === 'volume' ? { ...m, Source: '' } : m,
  );
  return {
    Id: rec.id,
    Names: [`/${rec.name}`, ...memo.linkNames(rec)],
    Image: rec.imageRef,
    ImageID: rec.imageId,
    Command: psCommand(rec.path ?? '', rec.args ?? []),
    Created: Math.floor(Date.parse(rec.created) / 1000),
    Ports: psPorts(rec),
    Labels: rec.config.Labels ?? {},
    State: rec.state.Status,
    Status: statusText(rec),
    HostConfig: { NetworkMode: rec.hostConfig.NetworkMode || 'default' },
    NetworkSettings: { Networks: rec.networks ?? {} },
    Mounts: mounts,
    ...(withSize ? await sizes(ctx, rec, memo) : {}),
  };
}

/** ps's COMMAND: arguments with a space in single quotes, as dockerd lists them (the path never). */
export function psCommand(path: string, args: string[]): string {
  return [path, ...args.map((a) => (a.includes(' ') ? `'${a}'` : a))].join(' ');
}

/** ps's STATUS column, after Docker's container.State.String(). */
export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.state;
  switch (s.Status) {
    case 'running':
      return `Up ${humanDuration(now - Date.parse(s.StartedAt))}${s.Health ? ` (${healthText(s.Health)})` : ''}`;
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(s.StartedAt))} (Paused)`;
    case 'restarting':
      return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    default:
      if (s.FinishedAt.startsWith('0001-')) return 'Created';
      return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
  }
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3600000 / 24 / 365)} years`;
}
