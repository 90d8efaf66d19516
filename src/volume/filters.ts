// `docker volume ls --filter` and `docker volume prune --filter`, with moby's semantics and
// words (daemon/volume/service/convert.go).
import { InvalidParameter } from '../errors.js';
import { matchLabels } from '../util/label-filter.js';
import type { VolumeRecord } from './types.js';

export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

type Filters = Map<string, string[]>;

const invalidFilter = (name: string, values?: string[]) =>
  new InvalidParameter(`invalid filter '${name}${values ? '=' + values.join(',') : ''}'`);

function checkNames(filters: Filters, allowed: string[]): void {
  for (const k of filters.keys()) if (!allowed.includes(k)) throw invalidFilter(k);
}

/** filters.Args.Match: a value matches when equal or as a regular expression found in `s`. */
function matchAny(values: string[], s: string): boolean {
  return values.some((v) => {
    if (v === s) return true;
    try {
      return new RegExp(v).test(s);
    } catch {
      return false;
    }
  });
}

function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** A predicate for `volume ls`; `inUse` says whether containers reference a volume. */
export function listFilter(filters: Filters, inUse: (name: string) => boolean): (v: VolumeRecord) => boolean {
  checkNames(filters, ['dangling', 'name', 'driver', 'label']);
  let dangling: boolean | undefined;
  const d = filters.get('dangling');
  if (d && d.length > 0) {
    if (d.includes('true') || d.includes('1')) dangling = true;
    else if (d.includes('false') || d.includes('0')) dangling = false;
    else throw invalidFilter('dangling', d);
  }
  const names = filters.get('name');
  const drivers = filters.get('driver');
  const labels = filters.get('label');
  return (v) => {
    if (names?.length && !matchAny(names, v.name)) return false;
    if (drivers?.length && !matchAny(drivers, v.driver)) return false;
    if (labels?.length && !matchLabels(labels, v.labels)) return false;
    if (dangling !== undefined && inUse(v.name) === dangling) return false;
    return true;
  };
}

/**
 * A predicate for prune candidates (already known unused and local without options). Without
 * `all=true` only anonymous volumes qualify, as dockerd ≥ 23 does.
 */
export function pruneFilter(filters: Filters): (v: VolumeRecord) => boolean {
  checkNames(filters, ['label', 'label!', 'all']);
  let all = false;
  const a = filters.get('all');
  if (a && a.length > 0) {
    const b = a.length === 1 ? parseGoBool(a[0]!) : undefined;
    if (b === undefined) throw invalidFilter('all', a);
    all = b;
  }
  const labels = [...(filters.get('label') ?? []), ...(all ? [] : [ANONYMOUS_LABEL])];
  const notLabels = filters.get('label!') ?? [];
  return (v) => {
    if (labels.length && !matchLabels(labels, v.labels)) return false;
    if (notLabels.length && matchLabels(notLabels, v.labels)) return false;
    return true;
  };
}
