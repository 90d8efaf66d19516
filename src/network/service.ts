// The network service: Docker's network verbs over the networks table, and the endpoints of
// running containers, set up and torn down by netavark in a namespace per container. Each
// setup's netavark input is kept beside the namespace under the exec-root until teardown, so
// the next daemon start after a crash tears down exactly what was left (veths, bridges,
// firewall rules, aardvark-dns entries) and removes the namespaces.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { EventBus } from '../system/events.js';
import { Conflict, Forbidden, InvalidParameter, NotFound, SystemError } from '../errors.js';
import { matchLabels } from '../util/label-filter.js';
import { parseUntil } from '../util/until.js';
import { NetworkStore } from './store.js';
import { newNetwork, nowIso, PREDEFINED, type CreateNetworkBody } from './create.js';
import { allocateAddress, cidrString, intToIp, macOf, parseCidr, pickSubnet, routedElsewhere } from './ipam.js';
import { findHelper, Netavark, networkInfo, removeEmptyPortChain, type NetavarkOptions } from './netavark.js';
import { createNetns, networkNamespaceDir, removeNetns } from './netns.js';
import { removeNetworkLeftovers, stopStrayAardvark, tearDownKeptSetups } from './leftovers.js';
import { startProxy, type ProxyHandle } from './port-proxy.js';
import type { NetworkBackend } from './backend.js';
import type {
  AttachRequest,
  Attachment,
  ContainerNetworking,
  EndpointSettings,
  NetworkRecord,
  PortMapping,
} from './types.js';

export interface NetworkServiceDeps {
  db: MetaDb;
  execRoot: string;
  log: Logger;
  events: EventBus;
}

interface Active {
  req: AttachRequest;
  att: Attachment;
  opts: NetavarkOptions;
  proxies: ProxyHandle[];
  /** Container name per network, for network inspect. */
  name: string;
}

const LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'];

export class NetworkService implements ContainerNetworking, NetworkBackend {
  private readonly store: NetworkStore;
  private readonly active = new Map<string, Active>();
  private readonly netnsDir: string;
  private readonly netavark?: Netavark;
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: NetworkServiceDeps) {
    this.store = new NetworkStore(deps.db);
    this.netnsDir = networkNamespaceDir(deps.execRoot);
    const bin = findHelper('netavark');
    if (bin) this.netavark = new Netavark(path.join(deps.execRoot, 'netavark'), bin, findHelper('aardvark-dns'));
  }

  /** Predefined networks exist from the first start; leftovers of a crash are torn down. */
  async init(): Promise<void> {
    const builtin = (name: string, driver: NetworkRecord['Driver'], extra: Partial<NetworkRecord> = {}): void => {
      if (this.store.byName(name)) return;
      const id = randomBytes(32).toString('hex');
      this.store.save({
        Id: id,
        Name: name,
        Driver: driver,
        Created: nowIso(),
        Internal: false,
        Attachable: false,
        Labels: {},
        Options: {},
        userSubnet: false,
        bridge: '',
        dns: false,
        builtin: true,
        ...extra,
      });
    };
    const bridgeId = randomBytes(32).toString('hex');
    if (!this.store.byName('bridge')) {
      // Every pool routed already: start anyway; the subnet is chosen again when a container needs it.
      let subnet = parseCidr('172.17.0.0/16');
      try {
        subnet = pickSubnet(
          this.store
            .all()
            .filter((n) => n.Subnet)
            .map((n) => parseCidr(n.Subnet!)),
        );
      } catch {
        /* see above */
      }
      const bridge = `br-${bridgeId.slice(0, 12)}`;
      this.store.save({
        Id: bridgeId,
        Name: 'bridge',
        Driver: 'bridge',
        Created: nowIso(),
        Internal: false,
        Attachable: false,
        Labels: {},
        Options: {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': bridge,
          'com.docker.network.driver.mtu': '1500',
        },
        Subnet: cidrString(subnet),
        Gateway: intToIp(subnet.base + 1),
        userSubnet: false,
        bridge,
        dns: false,
        builtin: true,
      });
    }
    builtin('host', 'host');
    builtin('none', 'null');
    await this.recover();
    // What a killed daemon left whose exec-root went with it: no endpoint runs yet, so a bridge
    // or chain of this data-root's networks still on the host is no one's.
    const { removed, failed } = await removeNetworkLeftovers(
      this.store.all(),
      path.join(this.deps.execRoot, 'netavark'),
    );
    removed.push(...stopStrayAardvark(path.join(this.deps.execRoot, 'netavark')));
    if (removed.length) this.deps.log.info(`network recovery: removed ${removed.join(', ')}`);
    for (const f of failed) this.deps.log.warn(`network recovery: ${f}`);
  }

  /** Tears down what a crashed daemon left: every kept netavark input, then the namespaces. */
  private async recover(): Promise<void> {
    const { removed, failed } = await tearDownKeptSetups(this.netnsDir, this.netavark);
    if (removed.length) this.deps.log.info(`network recovery: tore down ${removed.join('; ')}`);
    for (const f of failed) this.deps.log.warn(`network recovery of ${f}`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.lock.then(fn, fn);
    this.lock = next.catch(() => undefined);
    return next;
  }

  resolve(ref: string): NetworkRecord {
    const n = this.store.find(ref);
    if (!n) throw new NotFound(`network ${ref} not found`);
    return n;
  }

  attachmentOf(containerId: string): Attachment | undefined {
    return this.active.get(containerId)?.att;
  }

  // ----- Docker's network verbs -----

  create(body: CreateNetworkBody): { Id: string; Warning: string } {
    const n = newNetwork(body, this.store.all());
    this.store.save(n);
    this.deps.events.emitEvent('network', 'create', n.Id, { name: n.Name, type: n.Driver });
    return { Id: n.Id, Warning: '' };
  }

  list(filters: Map<string, string[]>): Record<string, unknown>[] {
    for (const k of filters.keys()) if (!LIST_FILTERS.includes(k)) throw new InvalidParameter(`Invalid filter '${k}'`);
    for (const t of filters.get('type') ?? [])
      if (t !== 'custom' && t !== 'builtin') throw new InvalidParameter(`invalid filter: 'type'='${t}'`);
    const any = (k: string, pred: (v: string) => boolean) => {
      const vs = filters.get(k);
      return !vs?.length || vs.some(pred);
    };
    return this.store
      .all()
      .filter(
        (n) =>
          any('name', (v) => n.Name.includes(v)) &&
          any('id', (v) => n.Id.startsWith(v)) &&
          any('driver', (v) => v === n.Driver) &&
          any('scope', (v) => v === 'local') &&
          any('type', (v) => (v === 'builtin') === n.builtin) &&
          any('dangling', (v) => (v === 'true' || v === '1') === (!n.builtin && this.endpointsOn(n.Id).length === 0)) &&
          matchLabels(filters.get('label'), n.Labels),
      )
      .map((n) => this.json(n));
  }

  inspect(ref: string): Record<string, unknown> {
    return this.json(this.resolve(ref));
  }

  remove(ref: string): void {
    const n = this.resolve(ref);
    if (n.builtin) throw new Forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
    if (this.endpointsOn(n.Id).length)
      throw new Forbidden(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
    this.store.delete(n.Id);
    this.deps.events.emitEvent('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
  }

  prune(filters: Map<string, string[]>): { NetworksDeleted: string[] | null } {
    for (const k of filters.keys())
      if (k !== 'until' && k !== 'label' && k !== 'label!') throw new InvalidParameter(`Invalid filter '${k}'`);
    const until = (filters.get('until') ?? []).map((u) => parseUntil(u));
    const deleted: string[] = [];
    for (const n of this.store.all()) {
      if (n.builtin || this.endpointsOn(n.Id).length) continue;
      if (until.some((u) => Date.parse(n.Created) >= u)) continue;
      if (!matchLabels(filters.get('label'), n.Labels)) continue;
      const not = filters.get('label!');
      if (not?.length && not.some((l) => matchLabels([l], n.Labels))) continue;
      this.store.delete(n.Id);
      this.deps.events.emitEvent('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
      deleted.push(n.Name);
    }
    return { NetworksDeleted: deleted.length ? deleted : null };
  }

  private endpointsOn(networkId: string): { containerId: string; name: string; ep: EndpointSettings }[] {
    const out: { containerId: string; name: string; ep: EndpointSettings }[] = [];
    for (const [containerId, a] of this.active) {
      for (const ep of Object.values(a.att.endpoints))
        if (ep.NetworkID === networkId) out.push({ containerId, name: a.name, ep });
    }
    return out;
  }

  private json(n: NetworkRecord): Record<string, unknown> {
    const containers: Record<string, unknown> = {};
    for (const { containerId, name, ep } of this.endpointsOn(n.Id)) {
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
        Config: n.Subnet
          ? [{ Subnet: n.Subnet, Gateway: n.Gateway, ...(n.IPRange ? { IPRange: n.IPRange } : {}) }]
          : [],
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

  // ----- endpoints of running containers -----

  attach(req: AttachRequest): Promise<Attachment> {
    return this.serial(async () => {
      if (!this.netavark)
        throw new SystemError(
          'netavark is not installed: bridge networks are unavailable (install the netavark and aardvark-dns packages)',
        );
      const netns = path.join(this.netnsDir, req.containerId);
      const opts: NetavarkOptions = {
        container_id: req.containerId,
        container_name: req.containerName,
        networks: {},
        network_info: {},
      };
      const endpoints: Record<string, EndpointSettings> = {};
      let i = 0;
      for (const [ref, want] of Object.entries(req.networks)) {
        const n = this.usable(this.resolve(ref));
        const ep = this.endpoint(n, req, want.aliases, want.ipv4, endpoints);
        endpoints[n.Name] = ep;
        opts.networks[n.Id] = {
          interface_name: `eth${i++}`,
          static_ips: [ep.IPAddress],
          static_mac: ep.MacAddress,
          ...(n.dns ? { aliases: ep.Aliases ?? [] } : {}),
        };
        opts.network_info[n.Id] = networkInfo(n);
      }
      if (req.dnsServers.length) opts.dns_servers = req.dnsServers;
      const first = Object.values(endpoints)[0];
      const proxies: ProxyHandle[] = [];
      try {
        for (const m of first ? req.ports : []) {
          this.refuseAllocated(m, req.containerName, first.EndpointID);
          proxies.push(await startProxy(m, first.IPAddress));
        }
        const ports = proxies.map((p) => p.mapping);
        if (ports.length) opts.port_mappings = ports;
        await createNetns(netns);
        fs.writeFileSync(`${netns}.json`, JSON.stringify(opts));
        const status = await this.netavark.setup(netns, opts);
        const att: Attachment = {
          netnsPath: netns,
          endpoints,
          nameservers: this.nameservers(endpoints, status),
          ports,
        };
        this.active.set(req.containerId, { req, att, opts, proxies, name: req.containerName });
        for (const ep of Object.values(endpoints)) this.emit('connect', ep.NetworkID, req.containerId);
        return att;
      } catch (err) {
        for (const p of proxies) p.close();
        if (fs.existsSync(`${netns}.json`)) await this.netavark.teardown(netns, opts).catch(() => undefined);
        fs.rmSync(`${netns}.json`, { force: true });
        await removeNetns(netns);
        throw err instanceof Error && 'status' in err
          ? err
          : new SystemError(`failed to set up container networking: ${(err as Error).message}`);
      }
    });
  }

  detach(containerId: string): Promise<void> {
    return this.serial(async () => {
      const a = this.active.get(containerId);
      if (!a) return;
      this.active.delete(containerId);
      for (const p of a.proxies) p.close();
      await this.netavark
        ?.teardown(a.att.netnsPath, a.opts)
        .catch((e: unknown) => this.deps.log.warn(`network teardown ${containerId}: ${e}`));
      fs.rmSync(`${a.att.netnsPath}.json`, { force: true });
      await removeNetns(a.att.netnsPath);
      for (const ep of Object.values(a.att.endpoints)) {
        if (this.endpointsOn(ep.NetworkID).length === 0) await removeEmptyPortChain(ep.NetworkID);
        this.emit('disconnect', ep.NetworkID, containerId);
      }
    });
  }

  connect(req: AttachRequest, network: string): Promise<Attachment> {
    return this.serial(async () => {
      const a = this.active.get(req.containerId);
      if (!a || !this.netavark)
        throw new SystemError(`container ${req.containerId} has no network namespace to connect`);
      const n = this.usable(this.resolve(network));
      if (a.att.endpoints[n.Name])
        throw new Forbidden(`endpoint with name ${req.containerName} already exists in network ${n.Name}`);
      const want = req.networks[network] ?? req.networks[n.Name] ?? { aliases: [] };
      const ep = this.endpoint(n, req, want.aliases, want.ipv4, a.att.endpoints);
      const used = new Set(Object.values(a.opts.networks).map((x) => x.interface_name));
      let idx = 0;
      while (used.has(`eth${idx}`)) idx++;
      const one: NetavarkOptions = {
        container_id: req.containerId,
        container_name: req.containerName,
        networks: {
          [n.Id]: {
            interface_name: `eth${idx}`,
            static_ips: [ep.IPAddress],
            static_mac: ep.MacAddress,
            ...(n.dns ? { aliases: ep.Aliases ?? [] } : {}),
          },
        },
        network_info: { [n.Id]: networkInfo(n) },
      };
      a.opts.networks[n.Id] = one.networks[n.Id]!;
      a.opts.network_info[n.Id] = one.network_info[n.Id]!;
      fs.writeFileSync(`${a.att.netnsPath}.json`, JSON.stringify(a.opts));
      try {
        const status = await this.netavark.setup(a.att.netnsPath, one);
        a.att.endpoints[n.Name] = ep;
        a.att.nameservers = this.nameservers(a.att.endpoints, status, a.att.nameservers);
      } catch (err) {
        delete a.opts.networks[n.Id];
        delete a.opts.network_info[n.Id];
        fs.writeFileSync(`${a.att.netnsPath}.json`, JSON.stringify(a.opts));
        throw new SystemError(`failed to connect to network ${n.Name}: ${(err as Error).message}`);
      }
      this.emit('connect', n.Id, req.containerId);
      return a.att;
    });
  }

  disconnect(containerId: string, network: string): Promise<Attachment> {
    return this.serial(async () => {
      const a = this.active.get(containerId);
      const n = this.resolve(network);
      if (!a || !a.att.endpoints[n.Name])
        throw new Forbidden(`container ${containerId} is not connected to network ${n.Name}`);
      const one: NetavarkOptions = {
        container_id: containerId,
        container_name: a.name,
        networks: { [n.Id]: a.opts.networks[n.Id]! },
        network_info: { [n.Id]: a.opts.network_info[n.Id]! },
      };
      await this.netavark
        ?.teardown(a.att.netnsPath, one)
        .catch((e: unknown) => this.deps.log.warn(`network disconnect ${containerId}: ${e}`));
      delete a.opts.networks[n.Id];
      delete a.opts.network_info[n.Id];
      delete a.att.endpoints[n.Name];
      fs.writeFileSync(`${a.att.netnsPath}.json`, JSON.stringify(a.opts));
      if (this.endpointsOn(n.Id).length === 0) await removeEmptyPortChain(n.Id);
      this.emit('disconnect', n.Id, containerId);
      return a.att;
    });
  }

  /** A host port another container already publishes: Docker's words for its own allocator. */
  private refuseAllocated(m: PortMapping, name: string, endpointId: string): void {
    if (!m.host_port) return;
    const ip = m.host_ip || '0.0.0.0';
    for (const a of this.active.values()) {
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
  private usable(n: NetworkRecord): NetworkRecord {
    if (n.Driver !== 'bridge')
      throw new InvalidParameter(`network ${n.Name} has no endpoints of its own (driver ${n.Driver})`);
    if (!n.userSubnet && this.endpointsOn(n.Id).length === 0 && routedElsewhere(parseCidr(n.Subnet!), n.bridge)) {
      const others = this.store
        .all()
        .filter((x) => x.Id !== n.Id && x.Subnet)
        .map((x) => parseCidr(x.Subnet!));
      const s = pickSubnet(others, n.bridge);
      n.Subnet = cidrString(s);
      n.Gateway = intToIp(s.base + 1);
      this.store.save(n);
    }
    return n;
  }

  private endpoint(
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
    const used = new Set(this.endpointsOn(n.Id).map((e) => e.ep.IPAddress));
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
  private nameservers(
    endpoints: Record<string, EndpointSettings>,
    status: Record<string, { dns_server_ips?: string[] }>,
    prev: string[] = [],
  ): string[] {
    const out = [...prev];
    for (const ep of Object.values(endpoints))
      for (const ip of status[ep.NetworkID]?.dns_server_ips ?? []) if (!out.includes(ip)) out.push(ip);
    return out;
  }

  private emit(action: 'connect' | 'disconnect', networkId: string, containerId: string): void {
    const n = this.store.find(networkId);
    this.deps.events.emitEvent('network', action, networkId, {
      container: containerId,
      name: n?.Name ?? '',
      type: n?.Driver ?? 'bridge',
    });
  }
}

export async function createNetworkService(deps: NetworkServiceDeps): Promise<NetworkService> {
  const s = new NetworkService(deps);
  await s.init();
  return s;
}

export { PREDEFINED };
