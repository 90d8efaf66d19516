// Networks: Docker's network API on the network room (bridge networks on netavark with
// aardvark-dns; the predefined bridge, host and none). Unknown names are 404 `network X not
// found`, as the docker CLI's untyped `inspect` relies on.
import { NotFound } from '../errors.js';
import type { CreateNetworkBody, NetworkMutations, NetworkViews } from '../network/backend.js';
import type { ContainerEndpoints } from '../container/backend.js';
import type { Router, RequestContext } from './router.js';
import { Reply } from './router.js';
import { parseFilters, readJson } from './http.js';

const views = (ctx: RequestContext): NetworkViews => ctx.engine.networks;
const mutations = (ctx: RequestContext): NetworkMutations => ctx.engine.networks;
const endpoints = (ctx: RequestContext): ContainerEndpoints => ctx.engine.containers;

export function registerNetworkRoutes(router: Router): void {
  router.get('/networks', (ctx) => views(ctx).list(parseFilters(ctx.query)));
  router.get('/networks/{id}', (ctx) => views(ctx).inspect(ctx.params.id!));
  router.post(
    '/networks/create',
    async (ctx) => new Reply(201, mutations(ctx).create(await readJson<CreateNetworkBody>(ctx, {}))),
  );
  router.delete('/networks/{id}', async (ctx) => {
    await mutations(ctx).remove(ctx.params.id!);
    return new Reply(204, undefined);
  });
  router.post('/networks/prune', (ctx) => mutations(ctx).prune(parseFilters(ctx.query)));
  router.post('/networks/{id}/connect', async (ctx) => {
    const body = await readJson<{ Container?: string; EndpointConfig?: Record<string, any> }>(ctx, {});
    await endpoints(ctx).connectNetwork(body.Container ?? '', ctx.params.id!, body.EndpointConfig ?? undefined);
  });
  router.post('/networks/{id}/disconnect', async (ctx) => {
    const body = await readJson<{ Container?: string; Force?: boolean }>(ctx, {});
    await endpoints(ctx).disconnectNetwork(body.Container ?? '', ctx.params.id!);
  });
  router.get('/plugins', () => []);
  router.get('/plugins/{name*}/json', (ctx) => {
    throw new NotFound(`plugin "${ctx.params.name}" not found`);
  });
}
