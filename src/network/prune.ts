// POST /networks/prune: every network no container is on (the predefined ones excepted) that
// matches the filters (until, label, label!).
import { InvalidParameter } from '../errors.js';
import type { EventBus } from '../system/events.js';
import { matchLabels } from '../util/label-filter.js';
import { parseUntil } from '../util/until.js';
import { endpointsOn, type ActiveSetups } from './endpoints.js';
import type { NetworkStore } from './store.js';

export function pruneNetworks(
  store: NetworkStore,
  active: ActiveSetups,
  events: Pick<EventBus, 'emitEvent'>,
  filters: Map<string, string[]>,
): { NetworksDeleted: string[] | null } {
  for (const k of filters.keys())
    if (k !== 'until' && k !== 'label' && k !== 'label!') throw new InvalidParameter(`Invalid filter '${k}'`);
  const until = (filters.get('until') ?? []).map((u) => parseUntil(u));
  const deleted: string[] = [];
  for (const n of store.all()) {
    if (n.builtin || endpointsOn(active, n.Id).length) continue;
    if (until.some((u) => Date.parse(n.Created) >= u)) continue;
    if (!matchLabels(filters.get('label'), n.Labels)) continue;
    const not = filters.get('label!');
    if (not?.length && not.some((l) => matchLabels([l], n.Labels))) continue;
    store.delete(n.Id);
    events.emitEvent('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
    deleted.push(n.Name);
  }
  return { NetworksDeleted: deleted.length ? deleted : null };
}
