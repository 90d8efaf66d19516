// POST /containers/prune: every container that is not running and matches the filters
// (until, label, label!), with the space their writable layers held.
import { InvalidParameter } from '../errors.js';
import type { Ctx } from './context.js';
import { liveOf } from './context.js';
import { matchLabels } from '../util/label-filter.js';
import { parseUntil } from '../util/until.js';
import { sizes } from './view.js';

export interface PruneReport {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

export async function pruneContainers(
  ctx: Ctx,
  filters: Map<string, string[]>,
  remove: (id: string) => Promise<void>,
): Promise<PruneReport> {
  for (const k of filters.keys())
    if (!['until', 'label', 'label!'].includes(k)) throw new InvalidParameter(`invalid filter '${k}'`);
  const until = (filters.get('until') ?? []).map(parseUntil);
  const deleted: string[] = [];
  let reclaimed = 0;
  for (const rec of ctx.store.all()) {
    if (rec.state.Running || liveOf(ctx, rec.id).removing) continue;
    if (until.some((t) => Date.parse(rec.created) >= t)) continue;
    const labels = rec.config.Labels ?? {};
    if (!matchLabels(filters.get('label'), labels)) continue;
    if ((filters.get('label!') ?? []).some((l) => matchLabels([l], labels))) continue;
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
