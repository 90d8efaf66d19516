// GET /networks and GET /networks/{id}: a network as the Engine API's Network object (its
// containers' endpoints included), and the list filters dockerd knows.
import { InvalidParameter } from '../errors.js';
import { matchLabels } from '../util/label-filter.js';
import { endpointsOn, type ActiveSetups, type NetworkEndpoint } from './endpoints.js';
import type { NetworkStore } from './store.js';
import type { NetworkRecord } from './types.js';

const LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'];

export function listNetworks(
  store: NetworkStore,
  active: ActiveSetups,
  filters: Map<string, string[]>,
): Record<string, unknown>[] {
  for (const k of filters.keys()) if (!LIST_FILTERS.includes(k)) throw new InvalidParameter(`Invalid filter '${k}'`);
  for (const t of filters.get('type') ?? [])
    if (t !== 'custom' && t !== 'builtin') throw new InvalidParameter(`invalid filter: 'type'='${t}'`);
  const any = (k: string, pred: (v: string) => boolean) => {
    const vs = filters.get(k);
    return !vs?.length || vs.some(pred);
  };
  return store
    .all()
    .filter(
      (n) =>
        any('name', (v) => n.Name.includes(v)) &&
        any('id', (v) => n.Id.startsWith(v)) &&
        any('driver', (v) => v === n.Driver) &&
        any('scope', (v) => v === 'local') &&
        any('type', (v) => (v === 'builtin') === n.builtin) &&
        any(
          'dangling',
          (v) => (v === 'true' || v === '1') === (!n.builtin && endpointsOn(active, n.Id).length === 0),
        ) &&
        matchLabels(filters.get('label'), n.Labels),
    )
    .map((n) => networkJson(n, endpointsOn(active, n.Id)));
}

export function networkJson(n: NetworkRecord, endpoints: NetworkEndpoint[]): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  for (const { containerId, name, ep } of endpoints) {
    containers[containerId] = {
      Name: name,
      EndpointID: ep.EndpointID,
      MacAddress: ep.MacAddress,
      IPv4Address: `${ep.IPAddress}/${ep.IPPrefixLen}`,
      IPv6Address: '',
    };
  }
  return {
    Name: n.Name,
    Id: n.Id,
    Created: n.Created,
    Scope: 'local',
    Driver: n.Driver,
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: n.builtin ? null : {},
      Config: n.Subnet ? [{ Subnet: n.Subnet, Gateway: n.Gateway, ...(n.IPRange ? { IPRange: n.IPRange } : {}) }] : [],
    },
    Internal: n.Internal,
    Attachable: n.Attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.Options,
    Labels: n.Labels,
  };
}
