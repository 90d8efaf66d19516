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
import { Forbidden, NotFound, SystemError } from '../errors.js';
import { NetworkStore } from './store.js';
import { newNetwork, nowIso, PREDEFINED, type CreateNetworkBody } from './create.js';
import { findHelper, Netavark, networkInfo, removeEmptyPortChain, type NetavarkOptions } from './netavark.js';
import { createNetns, networkNamespaceDir, removeNetns } from './netns.js';
import { networkLeftoverTraces, removeNetworkLeftovers, stopStrayAardvark, tearDownKeptSetups } from './leftovers.js';
import { startProxy, type ProxyHandle } from './port-proxy.js';
import type { NetworkBackend } from './backend.js';
import type { AttachRequest, Attachment, ContainerNetworking, EndpointSettings, NetworkRecord } from './types.js';
import { ensureDefaultBridge } from './default-bridge.js';
import { endpointsOn, nameserversOf, newEndpoint, refuseAllocated, usableNetwork, type Active } from './endpoints.js';
import { listNetworks, networkJson } from './view.js';
import { checkPruneFilters, prunableNetworks } from './prune.js';

export interface NetworkServiceDeps {
  db: MetaDb;
  execRoot: string;
  log: Logger;
  events: EventBus;
}

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
    ensureDefaultBridge(this.store);
    builtin('host', 'host');
    builtin('none', 'null');
    await this.recover();
    // What a killed daemon left whose exec-root went with it: no endpoint runs yet, so a bridge
    // or chain of this data-root's networks still on the host is no one's. Looked for (nat table,
    // process list) only where a cheap trace of one is left.
    const configDir = path.join(this.deps.execRoot, 'netavark');
    if (!networkLeftoverTraces(this.store.all(), configDir)) return;
    const { removed, failed } = await removeNetworkLeftovers(this.store.all(), configDir);
    removed.push(...stopStrayAardvark(configDir));
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
    return listNetworks(this.store, this.active, filters);
  }

  inspect(ref: string): Record<string, unknown> {
    const n = this.resolve(ref);
    return networkJson(n, endpointsOn(this.active, n.Id));
  }

  remove(ref: string): Promise<void> {
    const n = this.resolve(ref);
    if (n.builtin) throw new Forbidden(`${n.Name} is a pre-defined network and cannot be removed`);
    return this.serial(async () => {
      if (endpointsOn(this.active, n.Id).length)
        throw new Forbidden(`error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
      await this.removeFromHost([n]);
      this.store.delete(n.Id);
      this.deps.events.emitEvent('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
    });
  }

  prune(filters: Map<string, string[]>): Promise<{ NetworksDeleted: string[] | null }> {
    checkPruneFilters(filters); // before waiting behind other network changes
    return this.serial(async () => {
      const gone = prunableNetworks(this.store, this.active, filters);
      await this.removeFromHost(gone);
      for (const n of gone) {
        this.store.delete(n.Id);
        this.deps.events.emitEvent('network', 'destroy', n.Id, { name: n.Name, type: n.Driver });
      }
      return { NetworksDeleted: gone.length ? gone.map((n) => n.Name) : null };
    });
  }

  /**
   * What networks about to lose their rows left on the host: a bridge or chains whose teardown
   * failed (the chains gone first, a crash half way through a setup). Once the row is gone
   * nothing would find them again.
   */
  private async removeFromHost(networks: NetworkRecord[]): Promise<void> {
    const configDir = path.join(this.deps.execRoot, 'netavark');
    const { removed, failed } = await removeNetworkLeftovers(networks, configDir);
    if (removed.length) this.deps.log.info(`network rm: removed ${removed.join(', ')}`);
    for (const f of failed) this.deps.log.warn(`network rm: ${f}`);
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
        const n = usableNetwork(this.store, this.active, this.resolve(ref));
        const ep = newEndpoint(this.active, n, req, want.aliases, want.ipv4, endpoints);
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
          refuseAllocated(this.active, m, req.containerName, first.EndpointID);
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
          nameservers: nameserversOf(endpoints, status),
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
        if (endpointsOn(this.active, ep.NetworkID).length === 0) await removeEmptyPortChain(ep.NetworkID);
        this.emit('disconnect', ep.NetworkID, containerId);
      }
    });
  }

  connect(req: AttachRequest, network: string): Promise<Attachment> {
    return this.serial(async () => {
      const a = this.active.get(req.containerId);
      if (!a || !this.netavark)
        throw new SystemError(`container ${req.containerId} has no network namespace to connect`);
      const n = usableNetwork(this.store, this.active, this.resolve(network));
      if (a.att.endpoints[n.Name])
        throw new Forbidden(`endpoint with name ${req.containerName} already exists in network ${n.Name}`);
      const want = req.networks[network] ?? req.networks[n.Name] ?? { aliases: [] };
      const ep = newEndpoint(this.active, n, req, want.aliases, want.ipv4, a.att.endpoints);
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
        a.att.nameservers = nameserversOf(a.att.endpoints, status, a.att.nameservers);
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
      if (endpointsOn(this.active, n.Id).length === 0) await removeEmptyPortChain(n.Id);
      this.emit('disconnect', n.Id, containerId);
      return a.att;
    });
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
