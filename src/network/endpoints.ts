// The endpoints of running containers, as the network service keeps and allocates them: which
// endpoints a network has, a new endpoint's address, MAC and DNS names, the host ports already
// published, a default subnet moved off a range the host now routes elsewhere, and the DNS
// servers netavark's setups report. Apart from the service so that what it reads (the kept
// setups, the store) is passed in, not reached through the class.
import { randomBytes } from 'node:crypto';
import { Conflict, Forbidden, InvalidParameter } from '../errors.js';
import { allocateAddress, cidrString, intToIp, macOf, parseCidr, pickSubnet, routedElsewhere } from './ipam.js';
import type { NetavarkOptions } from './netavark.js';
import type { ProxyHandle } from './port-proxy.js';
import type { NetworkStore } from './store.js';
import type { AttachRequest, Attachment, EndpointSettings, NetworkRecord, PortMapping } from './types.js';

/** One running container's setup: what it asked for, what it got, and its netavark input. */
export interface Active {
  req: AttachRequest;
  att: Attachment;
  opts: NetavarkOptions;
  proxies: ProxyHandle[];
  /** Container name per network, for network inspect. */
  name: string;
}

/** The setups of running containers, by container ID. */
export type ActiveSetups = ReadonlyMap<string, Active>;

export interface NetworkEndpoint {
  containerId: string;
  name: string;
  ep: EndpointSettings;
}

export function endpointsOn(active: ActiveSetups, networkId: string): NetworkEndpoint[] {
  const out: NetworkEndpoint[] = [];
  for (const [containerId, a] of active) {
    for (const ep of Object.values(a.att.endpoints))
      if (ep.NetworkID === networkId) out.push({ containerId, name: a.name, ep });
  }
  return out;
}

/** A host port another container already publishes: Docker's words for its own allocator. */
export function refuseAllocated(active: ActiveSetups, m: PortMapping, name: string, endpointId: string): void {
  if (!m.host_port) return;
  const ip = m.host_ip || '0.0.0.0';
  for (const a of active.values()) {
    for (const p of a.att.ports) {
      const pip = p.host_ip || '0.0.0.0';
      if (p.host_port !== m.host_port || p.protocol !== m.protocol) continue;
      if (pip === ip || pip === '0.0.0.0' || ip === '0.0.0.0') {
        throw new Conflict(
          `driver failed programming external connectivity on endpoint ${name} (${endpointId}): Bind for ${ip}:${m.host_port} failed: port is already allocated`,
        );
      }
    }
  }
}

/** A bridge network ready for a new endpoint: its subnet moved off any address range the host now routes elsewhere. */
export function usableNetwork(store: NetworkStore, active: ActiveSetups, n: NetworkRecord): NetworkRecord {
  if (n.Driver !== 'bridge')
    throw new InvalidParameter(`network ${n.Name} has no endpoints of its own (driver ${n.Driver})`);
  if (!n.userSubnet && endpointsOn(active, n.Id).length === 0 && routedElsewhere(parseCidr(n.Subnet!), n.bridge)) {
    const others = store
      .all()
      .filter((x) => x.Id !== n.Id && x.Subnet)
      .map((x) => parseCidr(x.Subnet!));
    const s = pickSubnet(others, n.bridge);
    n.Subnet = cidrString(s);
    n.Gateway = intToIp(s.base + 1);
    store.save(n);
  }
  return n;
}

export function newEndpoint(
  active: ActiveSetups,
  n: NetworkRecord,
  req: AttachRequest,
  aliases: string[],
  ipv4: string | undefined,
  taken: Record<string, EndpointSettings>,
): EndpointSettings {
  if (ipv4 && !n.userSubnet)
    throw new Forbidden(
      'user specified IP address is supported only when connecting to networks with user configured subnets',
    );
  const used = new Set(endpointsOn(active, n.Id).map((e) => e.ep.IPAddress));
  for (const ep of Object.values(taken)) if (ep.NetworkID === n.Id) used.add(ep.IPAddress);
  const subnet = parseCidr(n.Subnet!);
  const ip = allocateAddress(subnet, n.Gateway!, used, n.IPRange ? parseCidr(n.IPRange) : undefined, ipv4);
  // Docker resolves a container on user-defined networks by its short ID as well.
  const names = n.dns ? [...new Set([...aliases, req.containerId.slice(0, 12)])] : null;
  return {
    IPAMConfig: ipv4 ? { IPv4Address: ipv4 } : null,
    Links: null,
    Aliases: names,
    NetworkID: n.Id,
    EndpointID: randomBytes(32).toString('hex'),
    Gateway: n.Internal ? '' : n.Gateway!,
    IPAddress: ip,
    IPPrefixLen: subnet.bits,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: macOf(ip),
    DriverOpts: null,
  };
}

/** aardvark-dns answers on the gateway of each network with DNS; without one the host's resolvers apply. */
export function nameserversOf(
  endpoints: Record<string, EndpointSettings>,
  status: Record<string, { dns_server_ips?: string[] }>,
  prev: string[] = [],
): string[] {
  const out = [...prev];
  for (const ep of Object.values(endpoints))
    for (const ip of status[ep.NetworkID]?.dns_server_ips ?? []) if (!out.includes(ip)) out.push(ip);
  return out;
}
