// POST /networks/create: Docker's request checked field by field. What Strata's bridge
// networks implement is accepted; anything else (other drivers, IPv6, IPAM drivers, swarm
// fields, unknown driver options) is refused rather than silently ignored.
import { randomBytes } from 'node:crypto';
import { Conflict, Forbidden, InvalidParameter, NotImplemented } from '../errors.js';
import { cidrString, contains, isIPv4, intToIp, overlaps, parseCidr, pickSubnet, type Cidr } from './ipam.js';
import type { NetworkRecord } from './types.js';

export interface CreateNetworkBody {
  Name?: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network?: string } | null;
  EnableIPv6?: boolean;
  IPAM?: {
    Driver?: string;
    Config?:
      { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }[] | null;
    Options?: Record<string, string> | null;
  } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

export const PREDEFINED = ['bridge', 'host', 'none'];
const BRIDGE_OPTIONS = [
  'com.docker.network.bridge.name',
  'com.docker.network.driver.mtu',
  'com.docker.network.bridge.enable_ip_masquerade',
  'com.docker.network.bridge.enable_icc',
  'com.docker.network.bridge.host_binding_ipv4',
];
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function nowIso(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** A validated new bridge network record; `existing` are the networks already there. */
export function newNetwork(body: CreateNetworkBody, existing: NetworkRecord[]): NetworkRecord {
  const name = body.Name ?? '';
  if (!name) throw new InvalidParameter('network name must not be empty');
  if (PREDEFINED.includes(name)) throw new Forbidden(`operation is not permitted on predefined ${name} network `);
  if (!NAME.test(name))
    throw new InvalidParameter(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const dup = existing.find((n) => n.Name === name);
  if (dup) throw new Conflict(`network with name ${name} already exists`);
  const driver = body.Driver || 'bridge';
  if (driver !== 'bridge')
    throw new NotImplemented(
      `network driver "${driver}" is not supported by Strata: only bridge networks can be created`,
    );
  if (body.Scope && body.Scope !== 'local')
    throw new NotImplemented(`network scope "${body.Scope}" is not supported by Strata`);
  if (body.EnableIPv6) throw new NotImplemented('IPv6 networks are not supported by Strata');
  if (body.Ingress || body.ConfigOnly || body.ConfigFrom?.Network)
    throw new NotImplemented('swarm networks (ingress, config-only, config-from) are not supported by Strata');
  const ipam = body.IPAM ?? {};
  if (ipam.Driver && ipam.Driver !== 'default')
    throw new NotImplemented(`IPAM driver "${ipam.Driver}" is not supported by Strata`);
  if (ipam.Options && Object.keys(ipam.Options).length)
    throw new NotImplemented(`IPAM options are not supported by Strata: ${Object.keys(ipam.Options).join(', ')}`);
  const options = body.Options ?? {};
  for (const k of Object.keys(options)) {
    if (!BRIDGE_OPTIONS.includes(k)) throw new NotImplemented(`network option "${k}" is not supported by Strata`);
  }
  if (
    options['com.docker.network.bridge.enable_icc'] === 'false' ||
    options['com.docker.network.bridge.enable_ip_masquerade'] === 'false'
  ) {
    throw new NotImplemented('disabling inter-container communication or IP masquerading is not supported by Strata');
  }
  if (
    options['com.docker.network.bridge.host_binding_ipv4'] &&
    options['com.docker.network.bridge.host_binding_ipv4'] !== '0.0.0.0'
  ) {
    throw new NotImplemented('com.docker.network.bridge.host_binding_ipv4 is not supported by Strata');
  }
  const configs = ipam.Config ?? [];
  if (configs.length > 1) throw new NotImplemented('more than one IPAM configuration is not supported by Strata');
  const id = randomBytes(32).toString('hex');
  const bridgeName = options['com.docker.network.bridge.name'] || `br-${id.slice(0, 12)}`;
  if (bridgeName.length > 15) throw new InvalidParameter(`bridge name "${bridgeName}" is longer than 15 characters`);
  const taken = existing.filter((n) => n.Subnet).map((n) => parseCidr(n.Subnet!));
  const cfg = configs[0] ?? {};
  if (cfg.AuxiliaryAddresses && Object.keys(cfg.AuxiliaryAddresses).length)
    throw new NotImplemented('auxiliary addresses are not supported by Strata');
  let subnet: Cidr;
  let userSubnet = false;
  if (cfg.Subnet) {
    subnet = parseCidr(cfg.Subnet);
    if (subnet.bits > 30) throw new InvalidParameter(`subnet ${cfg.Subnet} is too small for a network`);
    if (taken.some((t) => overlaps(t, subnet)))
      throw new Forbidden('Pool overlaps with other one on this address space');
    userSubnet = true;
  } else {
    if (cfg.Gateway || cfg.IPRange) throw new InvalidParameter('a gateway or an IP range needs a subnet (--subnet)');
    subnet = pickSubnet(taken);
  }
  let gateway = intToIp(subnet.base + 1);
  if (cfg.Gateway) {
    if (!isIPv4(cfg.Gateway)) throw new InvalidParameter(`invalid gateway address: ${cfg.Gateway}`);
    if (!contains(subnet, cfg.Gateway)) throw new InvalidParameter(`no matching subnet for gateway ${cfg.Gateway}`);
    gateway = cfg.Gateway;
  }
  let ipRange: string | undefined;
  if (cfg.IPRange) {
    const r = parseCidr(cfg.IPRange);
    if (!contains(subnet, intToIp(r.base)) || r.bits < subnet.bits)
      throw new InvalidParameter(`no matching subnet for range ${cfg.IPRange}`);
    ipRange = cidrString(r);
  }
  return {
    Id: id,
    Name: name,
    Driver: 'bridge',
    Created: nowIso(),
    Internal: !!body.Internal,
    Attachable: !!body.Attachable,
    Labels: body.Labels ?? {},
    Options: options,
    Subnet: cidrString(subnet),
    Gateway: gateway,
    IPRange: ipRange,
    userSubnet,
    bridge: bridgeName,
    dns: true,
    builtin: false,
  };
}
