// `docker ps --filter` and `container prune --filter`, with Docker's filter names and errors.
import { InvalidParameter } from '../errors.js';
import { matchLabels } from '../util/label-filter.js';
import type { Ctx } from './context.js';
import type { ContainerRecord } from './types.js';
import { healthFilterValue } from './health-config.js';

export const PS_FILTERS = [
  'ancestor',
  'before',
  'expose',
  'exited',
  'health',
  'id',
  'isolation',
  'is-task',
  'label',
  'name',
  'network',
  'publish',
  'since',
  'status',
  'volume',
];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export async function psFilter(ctx: Ctx, filters: Map<string, string[]>): Promise<(c: ContainerRecord) => boolean> {
  for (const k of filters.keys()) if (!PS_FILTERS.includes(k)) throw new InvalidParameter(`invalid filter '${k}'`);
  const status = filters.get('status') ?? [];
  for (const s of status) if (!STATUSES.includes(s)) throw new InvalidParameter(`invalid filter 'status=${s}'`);
  const exited = (filters.get('exited') ?? []).map((e) => {
    const n = Number(e);
    if (!Number.isInteger(n)) throw new InvalidParameter(`invalid filter 'exited=${e}'`);
    return n;
  });
  const ancestors: string[] = [];
  for (const a of filters.get('ancestor') ?? []) {
    try {
      ancestors.push((await ctx.images.resolve(a)).id);
    } catch {
      ancestors.push(a);
    }
  }
  const created = (ref: string) => {
    const c = ctx.store.find(ref);
    if (!c) throw new InvalidParameter(`No such container: ${ref}`);
    return Date.parse(c.created);
  };
  const health = filters.get('health') ?? [];
  for (const h of health)
    if (!['starting', 'healthy', 'unhealthy', 'none'].includes(h))
      throw new InvalidParameter(`Unrecognised filter value for health: ${h}`);
  const before = (filters.get('before') ?? []).map(created);
  const since = (filters.get('since') ?? []).map(created);
  return (c) => {
    const any = (k: string, pred: (v: string) => boolean) => {
      const vs = filters.get(k);
      return !vs || vs.length === 0 || vs.some(pred);
    };
    if (!any('name', (v) => new RegExp(v).test(`/${c.name}`))) return false;
    if (!any('id', (v) => c.id.startsWith(v))) return false;
    if (status.length && !status.includes(c.state.Status)) return false;
    if (exited.length && (c.state.Status !== 'exited' || !exited.includes(c.state.ExitCode))) return false;
    if (!matchLabels(filters.get('label'), c.config.Labels)) return false;
    if (
      ancestors.length &&
      !ancestors.some((a) => a === c.imageId || a === c.imageRef || c.imageId.startsWith(`sha256:${a}`))
    )
      return false;
    if (!any('volume', (v) => c.mounts.some((m) => m.source === v || m.destination === v))) return false;
    if (before.some((t) => Date.parse(c.created) >= t)) return false;
    if (since.some((t) => Date.parse(c.created) <= t)) return false;
    if (health.length && !health.includes(healthFilterValue(c.state))) return false;
    if (
      !any('network', (v) =>
        Object.entries(c.networks ?? {}).some(
          ([name, ep]) => name === v || (ep.NetworkID !== '' && ep.NetworkID.startsWith(v)),
        ),
      )
    )
      return false;
    if (
      !any('publish', (v) =>
        portMatches(
          v,
          (c.publishedPorts ?? []).map((p) => `${p.container_port}/${p.protocol}`),
        ),
      )
    )
      return false;
    if (!any('expose', (v) => portMatches(v, Object.keys(c.config.ExposedPorts ?? {})))) return false;
    return true;
  };
}

/** `publish`/`expose` values: a port or a range, with an optional protocol (tcp by default). */
function portMatches(filter: string, ports: string[]): boolean {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(filter);
  if (!m) throw new InvalidParameter(`invalid filter '${filter}'`);
  const lo = Number(m[1]);
  const hi = Number(m[2] ?? m[1]);
  const proto = m[3] ?? 'tcp';
  return ports.some((p) => {
    const [n, pr] = p.split('/');
    return pr === proto && Number(n) >= lo && Number(n) <= hi;
  });
}
