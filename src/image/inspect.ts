// The JSON Docker 20.10 answers for image inspect, list and history, field by field.
import type { ImageRows } from './image-rows.js';
import type { ImageRow } from './image-db.js';
import type { ImageRunConfig } from './types.js';
import { familiar } from './reference.js';
import { chainIDs } from './digest.js';
import { rfc3339Nano, unixSeconds } from './format.js';

/** Go's container.Config marshalled: every field in struct order, omitempty ones only when set. */
export function containerConfigJson(c: ImageRunConfig | undefined | null): Record<string, unknown> {
  const v = c ?? {};
  const o: Record<string, unknown> = {
    Hostname: v.Hostname ?? '',
    Domainname: v.Domainname ?? '',
    User: v.User ?? '',
    AttachStdin: v.AttachStdin ?? false,
    AttachStdout: v.AttachStdout ?? false,
    AttachStderr: v.AttachStderr ?? false,
  };
  if (v.ExposedPorts && Object.keys(v.ExposedPorts).length) o.ExposedPorts = v.ExposedPorts;
  Object.assign(o, {
    Tty: v.Tty ?? false,
    OpenStdin: v.OpenStdin ?? false,
    StdinOnce: v.StdinOnce ?? false,
    Env: v.Env ?? null,
    Cmd: v.Cmd ?? null,
  });
  if (v.Healthcheck) o.Healthcheck = v.Healthcheck;
  if (v.ArgsEscaped) o.ArgsEscaped = v.ArgsEscaped;
  Object.assign(o, {
    Image: v.Image ?? '',
    Volumes: v.Volumes ?? null,
    WorkingDir: v.WorkingDir ?? '',
    Entrypoint: v.Entrypoint ?? null,
  });
  if (v.NetworkDisabled) o.NetworkDisabled = v.NetworkDisabled;
  if (v.MacAddress) o.MacAddress = v.MacAddress;
  Object.assign(o, { OnBuild: v.OnBuild ?? null, Labels: v.Labels ?? null });
  if (v.StopSignal) o.StopSignal = v.StopSignal;
  if (v.StopTimeout !== undefined && v.StopTimeout !== null) o.StopTimeout = v.StopTimeout;
  if (v.Shell && (v.Shell as string[]).length) o.Shell = v.Shell;
  return o;
}

export async function inspectImage(store: ImageRows, row: ImageRow): Promise<Record<string, unknown>> {
  const c = store.configOf(row);
  const refs = store.rows.refsOf(row.id);
  const diffIDs = c.rootfs?.diff_ids ?? [];
  const top = chainIDs(diffIDs).pop();
  const graph = top
    ? await store.layers.snapshotter
        .graphDriverData(top)
        .catch(() => ({ Name: store.layers.snapshotter.driver, Data: null }))
    : { Name: store.layers.snapshotter.driver, Data: null };
  const out: Record<string, unknown> = {
    Id: row.id,
    RepoTags: refs.filter((r) => !r.includes('@')).map(familiar),
    RepoDigests: refs.filter((r) => r.includes('@')).map(familiar),
    Parent: row.parent,
    Comment: (c.comment as string | undefined) ?? '',
    Created: rfc3339Nano(c.created),
    Container: c.container ?? '',
    ContainerConfig: containerConfigJson(c.container_config),
    DockerVersion: c.docker_version ?? '',
    Author: c.author ?? '',
    Config: c.config ? containerConfigJson(c.config) : null,
    Architecture: c.architecture ?? '',
  };
  if (c.variant) out.Variant = c.variant;
  Object.assign(out, {
    Os: c.os ?? '',
    Size: row.size,
    VirtualSize: row.size,
    GraphDriver: { Data: graph.Data, Name: graph.Name },
    RootFS: { Type: 'layers', Layers: diffIDs },
    Metadata: { LastTagTime: row.lastTagTime },
  });
  if (!diffIDs.length) (out.RootFS as Record<string, unknown>).Layers = undefined;
  return out;
}

export function listEntry(
  store: ImageRows,
  row: ImageRow,
  repoTags: string[] | null,
  repoDigests: string[] | null,
  sharedSize: number,
  containers: number,
): Record<string, unknown> {
  const c = store.configOf(row);
  return {
    Containers: containers,
    Created: unixSeconds(c.created),
    Id: row.id,
    Labels: c.config?.Labels ?? null,
    ParentId: row.parent,
    RepoDigests: repoDigests,
    RepoTags: repoTags,
    SharedSize: sharedSize,
    Size: row.size,
    VirtualSize: row.size,
  };
}

export function imageHistory(store: ImageRows, row: ImageRow): Record<string, unknown>[] {
  const c = store.configOf(row);
  const diffIDs = c.rootfs?.diff_ids ?? [];
  const chains = chainIDs(diffIDs);
  const items: Record<string, unknown>[] = [];
  let layer = 0;
  for (const h of c.history ?? []) {
    let size = 0;
    if (!h.empty_layer) {
      const chain = chains[layer++];
      size = chain ? (store.layers.get(chain)?.size ?? 0) : 0;
    }
    items.unshift({
      Comment: h.comment ?? '',
      Created: unixSeconds(h.created),
      CreatedBy: h.created_by ?? '',
      Id: '<missing>',
      Size: size,
      Tags: null,
    });
  }
  let cur: ImageRow | undefined = row;
  for (const item of items) {
    if (!cur) break;
    item.Id = cur.id;
    const tags = store.rows
      .refsOf(cur.id)
      .filter((r) => !r.includes('@'))
      .map(familiar);
    item.Tags = tags.length ? tags : null;
    cur = cur.parent ? store.rows.get(cur.parent) : undefined;
  }
  return items;
}
