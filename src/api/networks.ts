// Networks: Strata has no network room yet. Containers get `none` or the host's network
// (the default answers like `host`), so the two built-in networks are listed and inspected
// as Docker shows them, unknown names are 404 as in Docker (the docker CLI's untyped
// `inspect` relies on that), and creating networks answers 501.
import { createHash } from 'node:crypto';
import { NotFound } from '../errors.js';
import type { Router } from './router.js';
import type { RequestContext } from './router.js';
import { parseFilters } from './http.js';

const BUILTIN: { name: string; driver: string }[] = [
  { name: 'host', driver: 'host' },
  { name: 'none', driver: 'null' },
];

function networkJson(ctx: RequestContext, n: { name: string; driver: string }): Record<string, unknown> {
  const id = createHash('sha256').update(`${ctx.engine.daemonId}/${n.name}`).digest('hex');
  return {
    Name: n.name, Id: id, Created: '0001-01-01T00:00:00Z', Scope: 'local', Driver: n.driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {},
  };
}

function find(ctx: RequestContext, ref: string): Record<string, unknown> {
  for (const n of BUILTIN) {
    const json = networkJson(ctx, n);
    if (ref === n.name || (ref.length >= 1 && String(json.Id).startsWith(ref))) return json;
  }
  throw new NotFound(`network ${ref} not found`);
}

export function registerNetworkRoutes(router: Router): void {
  router.get('/networks', (ctx) => {
    const filters = parseFilters(ctx.query);
    const names = filters.get('name');
    const drivers = filters.get('driver');
    return BUILTIN.filter((n) => (!names || names.some((x) => n.name.includes(x))) && (!drivers || drivers.includes(n.driver)))
      .map((n) => networkJson(ctx, n));
  });
  router.get('/networks/{id}', (ctx) => find(ctx, ctx.params.id!));
  // Only built-in networks exist, and those are never pruned.
  router.post('/networks/prune', () => ({ NetworksDeleted: null }));
  router.get('/plugins', () => []);
  router.get('/plugins/{name*}/json', (ctx) => { throw new NotFound(`plugin "${ctx.params.name}" not found`); });
}
