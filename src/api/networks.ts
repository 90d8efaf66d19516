// Networks: Docker's network API on the network room (bridge networks on netavark with
// aardvark-dns; the predefined bridge, host and none). Unknown names are 404 `network X not
// found`, as the docker CLI's untyped `inspect` relies on.
import { NotFound } from '../errors.js';
import type { NetworkService } from '../network/service.js';
import type { CreateNetworkBody } from '../network/create.js';
import type { ContainerEndpoints } from '../container/backend.js';
import type { Router, RequestContext } from './router.js';
import { Reply } from './router.js';
import { parseFilters, readJson } from './http.js';

const networks = (ctx: RequestContext): NetworkService => ctx.engine.networks;
const endpoints = (ctx: RequestContext): ContainerEndpoints => ctx.engine.containers;

export function registerNetworkRoutes(router: Router): void {
  router.get('/networks', (ctx) => networks(ctx).list(parseFilters(ctx.query)));
  router.get('/networks/{id}', (ctx) => networks(ctx).inspect(ctx.params.id!));
  router.post(
    '/networks/create',
    async (ctx) => new Reply(201, networks(ctx).create(await readJson<CreateNetworkBody>(ctx, {}))),
  );
  router.delete('/networks/{id}', (ctx) => {
    networks(ctx).remove(ctx.params.id!);
    return new Reply(204, undefined);
  });
  router.post('/networks/prune', (ctx) => networks(ctx).prune(parseFilters(ctx.query)));
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
