// A container's place on the networks: NetworkMode and NetworkingConfig checked at create
// (an unknown network is Docker's `network X not found`), the endpoints set up by the network
// room at start (with the ports published-ports.ts asks for) and torn down at exit, and the
// NetworkSettings and Ports that inspect and ps show.
import { Conflict, InvalidParameter, NotImplemented, isNotFound } from '../errors.js';
import type { ContainerNetworking, EndpointSettings } from '../network/types.js';
import type { Ctx } from './context.js';
import { containerDir } from './context.js';
import type { ContainerRecord } from './types.js';
import { choosePorts, parsePorts } from './published-ports.js';

export type NetMode = { kind: 'host' } | { kind: 'none' } | { kind: 'container'; ref: string } | { kind: 'networks' };

export function netModeOf(hc: Record<string, any>): NetMode {
  const m = String(hc.NetworkMode || 'default');
  if (m === 'host') return { kind: 'host' };
  if (m === 'none') return { kind: 'none' };
  if (m.startsWith('container:')) return { kind: 'container', ref: m.slice('container:'.length) };
  return { kind: 'networks' };
}

export const blankEndpoint = (networkId: string, aliases: string[] | null = null, ipv4?: string): EndpointSettings => ({
  IPAMConfig: ipv4 ? { IPv4Address: ipv4 } : null,
  Links: null,
  Aliases: aliases,
  NetworkID: networkId,
  EndpointID: '',
  Gateway: '',
  IPAddress: '',
  IPPrefixLen: 0,
  IPv6Gateway: '',
  GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0,
  MacAddress: '',
  DriverOpts: null,
});

/** Create-time checks; returns the endpoints the container is configured with (by network name). */
export function configureNetworks(
  ctx: Ctx,
  config: Record<string, any>,
  hc: Record<string, any>,
  networking: any,
): Record<string, EndpointSettings> {
  if (config.MacAddress) throw new NotImplemented('--mac-address is not supported by Strata');
  const endpoints = (networking?.EndpointsConfig ?? {}) as Record<string, Record<string, any>>;
  const mode = netModeOf(hc);
  const nets = ctx.networking;
  parsePorts(config, hc);
  if (mode.kind === 'container') {
    if (hc.PortBindings && Object.keys(hc.PortBindings).length)
      throw new InvalidParameter('conflicting options: port publishing and the container type network mode');
    const other = ctx.store.find(mode.ref);
    if (!other) throw new InvalidParameter(`No such container: ${mode.ref}`);
    hc.NetworkMode = `container:${other.id}`;
    return {};
  }
  if (!nets) {
    if (hc.NetworkMode !== 'default' && hc.NetworkMode !== 'host' && hc.NetworkMode !== 'none')
      throw new NotImplemented('networks are not available: the network service is not running');
    return {};
  }
  const name =
    mode.kind === 'networks' ? (hc.NetworkMode === 'default' ? 'bridge' : String(hc.NetworkMode)) : mode.kind;
  const given = String(hc.NetworkMode);
  let n: ReturnType<typeof nets.resolve>;
  try {
    n = nets.resolve(name);
  } catch (err) {
    // dockerd creates the container and refuses at start (`network X not found`, 404): a 404
    // from create would make the docker CLI try to pull the image instead.
    if (!isNotFound(err)) throw err;
    const cfg = endpoints[given] ?? endpoints[name];
    refuseEndpointOptions(cfg, name);
    return {
      [name]: blankEndpoint(
        '',
        (cfg?.Aliases as string[] | undefined) ?? null,
        cfg?.IPAMConfig?.IPv4Address || undefined,
      ),
    };
  }
  const extra = Object.keys(endpoints).filter((k) => k !== name && k !== given && k !== n.Name && k !== n.Id);
  if (extra.length)
    throw new InvalidParameter(`Container cannot be connected to network endpoints: ${[name, ...extra].join(', ')}`);
  const cfg = endpoints[given] ?? endpoints[name] ?? endpoints[n.Name] ?? endpoints[n.Id];
  refuseEndpointOptions(cfg, n.Name);
  const aliases = (cfg?.Aliases as string[] | undefined) ?? [];
  if (aliases.length && (n.Name === 'bridge' || n.Driver !== 'bridge'))
    throw new InvalidParameter('network-scoped alias is supported only for containers in user defined networks');
  return { [n.Name]: blankEndpoint(n.Id, aliases.length ? aliases : null, cfg?.IPAMConfig?.IPv4Address || undefined) };
}

export function refuseEndpointOptions(cfg: Record<string, any> | undefined, network: string): void {
  if (!cfg) return;
  if (cfg.IPAMConfig?.IPv6Address)
    throw new NotImplemented(`IPv6 addresses are not supported by Strata (network ${network})`);
  if (cfg.IPAMConfig?.LinkLocalIPs?.length)
    throw new NotImplemented('link-local addresses are not supported by Strata');
  if (cfg.Links?.length)
    throw new NotImplemented(
      'links on user-defined networks are not supported by Strata: containers there resolve each other by name and alias',
    );
  if (cfg.DriverOpts && Object.keys(cfg.DriverOpts).length)
    throw new NotImplemented('endpoint driver options are not supported by Strata');
  if (cfg.MacAddress) throw new NotImplemented('--mac-address is not supported by Strata');
}

export interface NetSetup {
  /** The namespace runc joins; undefined for the host's network. */
  netnsPath?: string;
  /** A private namespace without interfaces (none). */
  isolated: boolean;
  /** The container's own address for /etc/hosts. */
  address?: string;
  /** DNS servers for resolv.conf (aardvark-dns); empty: the host's. */
  nameservers: string[];
  /** Another container's /etc files (container:<name>). */
  etcFrom?: string;
  /** On the predefined host or none network: /etc/hosts names no address of the container's own. */
  predefined?: 'host' | 'none';
}

/** At start: the network namespace and endpoints, as the container's mode asks. */
export async function setupNetworking(ctx: Ctx, rec: ContainerRecord): Promise<NetSetup> {
  const hc = rec.hostConfig;
  const mode = netModeOf(hc);
  if (mode.kind === 'host') return { isolated: false, nameservers: [], predefined: 'host' };
  if (mode.kind === 'none') return { isolated: true, nameservers: [], predefined: 'none' };
  if (mode.kind === 'container') {
    const other = ctx.store.get(mode.ref);
    if (!other.state.Running) throw new Conflict(`cannot join network of a non running container: ${other.id}`);
    return {
      isolated: true,
      netnsPath: `/proc/${other.state.Pid}/ns/net`,
      nameservers: [],
      etcFrom: containerDir(ctx, other.id),
    };
  }
  const nets = ctx.networking as ContainerNetworking | undefined;
  // Without a network service (none configured), the default keeps the host's network.
  if (!nets) return { isolated: false, nameservers: [] };
  rec.networks ??= {};
  const requests: Record<string, { aliases: string[]; ipv4?: string }> = {};
  for (const [name, ep] of Object.entries(rec.networks)) {
    const n = nets.resolve(ep.NetworkID || name);
    requests[n.Name] = { aliases: ep.Aliases ?? [], ipv4: ep.IPAMConfig?.IPv4Address };
  }
  const ports = await choosePorts(parsePorts(rec.config, hc));
  const att = await nets.attach({
    containerId: rec.id,
    containerName: rec.name,
    hostname: String(rec.config.Hostname),
    networks: requests,
    ports,
    dnsServers: hc.Dns ?? [],
  });
  for (const [name, ep] of Object.entries(att.endpoints)) {
    const old = Object.entries(rec.networks).find(([k, e]) => k === name || e.NetworkID === ep.NetworkID);
    if (old && old[0] !== name) delete rec.networks[old[0]];
    rec.networks[name] = { ...ep, IPAMConfig: old?.[1].IPAMConfig ?? ep.IPAMConfig, Aliases: ep.Aliases };
  }
  rec.publishedPorts = att.ports;
  const first = Object.values(att.endpoints)[0];
  return { isolated: true, netnsPath: att.netnsPath, address: first?.IPAddress, nameservers: att.nameservers };
}

/** At exit: the endpoints go; the configured networks (aliases, requested address) stay. */
export async function teardownNetworking(ctx: Ctx, rec: ContainerRecord): Promise<void> {
  const nets = ctx.networking as ContainerNetworking | undefined;
  if (nets?.attachmentOf(rec.id))
    await nets.detach(rec.id).catch((e: unknown) => ctx.log.warn(`container ${rec.id}: network teardown: ${e}`));
  for (const [name, ep] of Object.entries(rec.networks ?? {}))
    rec.networks![name] = blankEndpoint(ep.NetworkID, ep.Aliases, ep.IPAMConfig?.IPv4Address);
  rec.publishedPorts = undefined;
}

/** Inspect's NetworkSettings.Ports: exposed ports (null when not published) and the bound host ports. */
export function portsJson(rec: ContainerRecord): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  if (!rec.state.Running) return out;
  for (const key of Object.keys(rec.config.ExposedPorts ?? {})) out[key] = null;
  for (const m of rec.publishedPorts ?? []) {
    const key = `${m.container_port}/${m.protocol}`;
    (out[key] ??= []).push({ HostIp: m.host_ip || '0.0.0.0', HostPort: String(m.host_port) });
  }
  return out;
}

/** ps's Ports: published ports with their host side, exposed ones without. */
export function psPorts(rec: ContainerRecord): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [key, binds] of Object.entries(portsJson(rec))) {
    const [p, proto] = key.split('/');
    if (!binds) {
      out.push({ PrivatePort: Number(p), Type: proto });
      continue;
    }
    for (const b of binds)
      out.push({ IP: b.HostIp, PrivatePort: Number(p), PublicPort: Number(b.HostPort), Type: proto });
  }
  return out;
}

/** Inspect's NetworkSettings, with the default bridge's endpoint also at the top level as Docker shows it. */
export function networkSettingsJson(rec: ContainerRecord, netnsPath?: string): Record<string, unknown> {
  const nets = rec.networks ?? {};
  const bridge = nets.bridge;
  return {
    Bridge: '',
    SandboxID: netnsPath ? rec.id.slice(0, 12) : '',
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: portsJson(rec),
    SandboxKey: netnsPath ?? '',
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridge?.EndpointID ?? '',
    Gateway: bridge?.Gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridge?.IPAddress ?? '',
    IPPrefixLen: bridge?.IPPrefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: bridge?.MacAddress ?? '',
    Networks: nets,
  };
}
