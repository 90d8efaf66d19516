// POST /containers/prune: every container that is not running and matches the filters
// (until, label, label!), with the space their writable layers held.
import { InvalidParameter } from '../errors.js';
import type { Ctx } from './context.js';
import { liveOf } from './context.js';
import { matchLabels } from './filters.js';
import { sizes } from './view.js';

export interface PruneReport { ContainersDeleted: string[] | null; SpaceReclaimed: number }

export async function pruneContainers(ctx: Ctx, filters: Map<string, string[]>, remove: (id: string) => Promise<void>): Promise<PruneReport> {
  for (const k of filters.keys()) if (!['until', 'label', 'label!'].includes(k)) throw new InvalidParameter(`invalid filter '${k}'`);
  const until = (filters.get('until') ?? []).map(parseUntil);
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const rec of ctx.store.all()) {
    if (rec.state.Running || liveOf(ctx, rec.id).removing) continue;
    if (until.some((t) => Date.parse(rec.created) >= t)) continue;
    const labels = rec.config.Labels ?? {};
    if (!matchLabels(labels, filters.get('label') ?? [])) continue;
    if ((filters.get('label!') ?? []).some((l) => matchLabels(labels, [l]))) continue;
    const size = (await sizes(ctx, rec)).SizeRw;
    try {
      await remove(rec.id);
      deleted.push(rec.id);
      reclaimed += size;
    } catch (e) {
      ctx.log.warn(`prune ${rec.id}: ${e}`);
    }
  }
  ctx.events.emitEvent('container', 'prune', '', { reclaimed: String(reclaimed) });
  return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
}

/** prune's until: RFC 3339, Unix seconds, or a Go duration back from now ("24h", "10m"). */
function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (d) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
    return Date.now() - Number(d[1]) * unit[d[2]!]!;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameter(`failed to parse value as time or duration: "${v}"`);
  return t;
}
