// docker network connect/disconnect: the container's configured networks change; a running
// container gets (or loses) the endpoint at once, through the network room.
import { Forbidden, NotFound } from '../errors.js';
import type { Ctx } from './context.js';
import { withLock } from './context.js';
import { blankEndpoint, netModeOf, refuseEndpointOptions } from './networking.js';
import type { ContainerRecord } from './types.js';

export async function connectNetwork(
  ctx: Ctx,
  rec: ContainerRecord,
  network: string,
  cfg: Record<string, any> | undefined,
): Promise<void> {
  const nets = ctx.networking;
  if (!nets) throw new NotFound(`network ${network} not found`);
  const n = nets.resolve(network);
  await withLock(ctx, rec.id, async () => {
    const mode = netModeOf(rec.hostConfig);
    if (n.Driver === 'host' || mode.kind === 'host')
      throw new Forbidden('container cannot be disconnected from host network or connected to host network');
    if (n.Driver === 'null' || mode.kind === 'none')
      throw new Forbidden(
        'container cannot be connected to multiple networks with one of the networks in private (none) mode',
      );
    if (mode.kind === 'container')
      throw new Forbidden(
        'container sharing network namespace with another container or host cannot be connected to any other network',
      );
    refuseEndpointOptions(cfg, n.Name);
    rec.networks ??= {};
    if (rec.networks[n.Name]) throw new Forbidden(`endpoint with name ${rec.name} already exists in network ${n.Name}`);
    const aliases = (cfg?.Aliases as string[] | undefined) ?? [];
    const ipv4 = cfg?.IPAMConfig?.IPv4Address as string | undefined;
    if (rec.state.Running && nets.attachmentOf(rec.id)) {
      const att = await nets.connect(
        {
          containerId: rec.id,
          containerName: rec.name,
          hostname: String(rec.config.Hostname),
          networks: { [n.Name]: { aliases, ipv4: ipv4 || undefined } },
          ports: [],
          dnsServers: rec.hostConfig.Dns ?? [],
        },
        n.Name,
      );
      rec.networks[n.Name] = { ...att.endpoints[n.Name]!, IPAMConfig: ipv4 ? { IPv4Address: ipv4 } : null };
    } else {
      rec.networks[n.Name] = blankEndpoint(n.Id, aliases.length ? aliases : null, ipv4 || undefined);
    }
    ctx.store.save(rec);
  });
}

export async function disconnectNetwork(ctx: Ctx, rec: ContainerRecord, network: string): Promise<void> {
  const nets = ctx.networking;
  if (!nets) throw new NotFound(`network ${network} not found`);
  const n = nets.resolve(network);
  await withLock(ctx, rec.id, async () => {
    if (n.Driver === 'host')
      throw new Forbidden('container cannot be disconnected from host network or connected to host network');
    if (!rec.networks?.[n.Name]) throw new Forbidden(`container ${rec.id} is not connected to network ${n.Name}`);
    if (rec.state.Running && nets.attachmentOf(rec.id)?.endpoints[n.Name]) await nets.disconnect(rec.id, n.Name);
    delete rec.networks[n.Name];
    ctx.store.save(rec);
  });
}
