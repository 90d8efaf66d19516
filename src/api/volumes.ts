// /volumes: list, create, inspect, remove, prune. Volume JSON follows the Engine API's Volume
// object; Labels and Options are null when empty, as dockerd answers.
import type { Engine } from '../engine.js';
import type { Router } from './router.js';
import { Reply } from './router.js';
import { parseFilters, queryBool, readJson } from './http.js';
import { versionAtLeast } from './version.js';
import { InvalidParameter, NotImplemented } from '../errors.js';
import type { VolumeRecord } from '../volume/types.js';
import { listFilter } from '../volume/filters.js';

interface CreateBody {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** Go's encoding/json writes map keys sorted; the CLI's `{{json .Options}}` shows that order. */
function sorted(m: Record<string, string>): Record<string, string> | null {
  const keys = Object.keys(m).sort();
  if (keys.length === 0) return null;
  return Object.fromEntries(keys.map((k) => [k, m[k]!]));
}

export function volumeJson(v: VolumeRecord): Record<string, unknown> {
  return {
    CreatedAt: v.createdAt,
    Driver: v.driver,
    Labels: sorted(v.labels),
    Mountpoint: v.mountpoint,
    Name: v.name,
    Options: sorted(v.options),
    Scope: v.scope,
    ...(v.status ? { Status: v.status } : {}),
  };
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new InvalidParameter(`invalid ${field}: expected an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string')
      throw new InvalidParameter(`invalid ${field}: value of ${JSON.stringify(k)} must be a string`);
    out[k] = v;
  }
  return out;
}

/** What the /volumes routes reach of the engine: the volume service, nothing else. */
export type VolumeRoutesEngine = Pick<Engine, 'volumes'>;

export function registerVolumeRoutes<E extends VolumeRoutesEngine>(router: Router<E>): void {
  router.get('/volumes', async ({ engine, query }) => {
    const filters = parseFilters(query);
    const keep = listFilter(filters, (name) => engine.volumes.users(name).length > 0);
    const volumes = (await engine.volumes.list()).filter(keep);
    return { Volumes: volumes.map(volumeJson), Warnings: null };
  });

  router.post('/volumes/create', async (ctx) => {
    const body = await readJson<CreateBody>(ctx, {}, { type: 'volume.VolumeCreateBody' });
    if (body.Name !== undefined && typeof body.Name !== 'string')
      throw new InvalidParameter('invalid Name: expected a string');
    const v = await ctx.engine.volumes.create({
      name: body.Name || undefined,
      driver: body.Driver || undefined,
      driverOpts: stringMap(body.DriverOpts, 'DriverOpts'),
      labels: stringMap(body.Labels, 'Labels'),
    });
    return new Reply(201, volumeJson(v));
  });

  router.post('/volumes/prune', async ({ engine, query, apiVersion }) => {
    const filters = parseFilters(query);
    // Before API 1.42 prune removed every unused local volume; dockerd keeps that for old clients.
    if (!versionAtLeast(apiVersion, '1.42')) filters.set('all', [...(filters.get('all') ?? []), 'true']);
    const r = await engine.volumes.prune(filters);
    // dockerd 20.10 answers [] when nothing was pruned (its report starts as an empty list).
    return { VolumesDeleted: r.deleted, SpaceReclaimed: r.spaceReclaimed };
  });

  router.get('/volumes/{name}', async ({ engine, params }) => volumeJson(await engine.volumes.get(params.name!)));

  router.put('/volumes/{name}', () => {
    throw new NotImplemented('volume update is only valid for cluster volumes, and Strata has no swarm mode');
  });

  router.delete('/volumes/{name}', async ({ engine, params, query }) => {
    await engine.volumes.remove(params.name!, { force: queryBool(query, 'force') });
    return new Reply(204);
  });

  // A Strata extension, shaped like Docker's POST /containers/{id}/rename?name=.
  router.post('/strata/volumes/{name}/rename', async ({ engine, params, query }) => {
    const to = query.get('name');
    if (!to) throw new InvalidParameter('a new name is required (?name=)');
    return volumeJson(await engine.volumes.rename(params.name!, to));
  });
}
