// POST /networks/prune: every network no container is on (the predefined ones excepted) that
// matches the filters (until, label, label!).
import { InvalidParameter } from '../errors.js';
import { matchLabels } from '../util/label-filter.js';
import { parseUntil } from '../util/until.js';
import { endpointsOn, type ActiveSetups } from './endpoints.js';
import type { NetworkStore } from './store.js';
import type { NetworkRecord } from './types.js';

/** InvalidParameter for a filter a network prune does not know, in Docker's words. */
export function checkPruneFilters(filters: Map<string, string[]>): void {
  for (const k of filters.keys())
    if (k !== 'until' && k !== 'label' && k !== 'label!') throw new InvalidParameter(`Invalid filter '${k}'`);
}

/** The networks a prune with `filters` removes. */
export function prunableNetworks(
  store: NetworkStore,
  active: ActiveSetups,
  filters: Map<string, string[]>,
): NetworkRecord[] {
  checkPruneFilters(filters);
  const until = (filters.get('until') ?? []).map((u) => parseUntil(u));
  return store.all().filter((n) => {
    if (n.builtin || endpointsOn(active, n.Id).length) return false;
    if (until.some((u) => Date.parse(n.Created) >= u)) return false;
    if (!matchLabels(filters.get('label'), n.Labels)) return false;
    const not = filters.get('label!');
    return !(not?.length && not.some((l) => matchLabels([l], n.Labels)));
  });
}
