// Published ports: PortBindings and PublishAllPorts read into the mappings a start asks the
// network room for (Docker's words for a bad specification), and a host port range narrowed to
// the first port of it that is free when the container starts.
import { Conflict, InvalidParameter, NotImplemented } from '../errors.js';
import type { PortMapping } from '../network/types.js';

/** "3000/tcp" → [3000, 'tcp']. */
function portKey(key: string): [number, 'tcp' | 'udp'] {
  const [p, proto = 'tcp'] = key.split('/');
  const port = Number(p);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidParameter(`invalid port specification: "${key}"`);
  if (proto !== 'tcp' && proto !== 'udp') throw new NotImplemented(`protocol ${proto} is not supported by Strata`);
  return [port, proto];
}

/** Mappings asked for: PortBindings, plus every exposed port on a random host port with PublishAllPorts. */
export type PortRequest = PortMapping & { hostEnd?: number };

export function parsePorts(config: Record<string, any>, hc: Record<string, any>): PortRequest[] {
  const out: PortRequest[] = [];
  const bindings = (hc.PortBindings ?? {}) as Record<string, { HostIp?: string; HostPort?: string }[] | null>;
  for (const [key, list] of Object.entries(bindings)) {
    const [port, protocol] = portKey(key);
    for (const b of list ?? [{}]) {
      const hostIp = b.HostIp ?? '';
      if (hostIp.includes(':')) throw new NotImplemented('IPv6 host addresses are not supported by Strata');
      if (hostIp && !/^\d+\.\d+\.\d+\.\d+$/.test(hostIp)) throw new InvalidParameter(`invalid IP address: ${hostIp}`);
      const hp = b.HostPort ?? '';
      let hostPort = 0;
      let hostEnd: number | undefined;
      if (hp !== '') {
        const m = /^(\d+)(?:-(\d+))?$/.exec(hp);
        if (!m) throw new InvalidParameter(`invalid port specification: "${hp}"`);
        hostPort = Number(m[1]);
        // A host range for one container port: Docker takes the first free port of it.
        if (m[2]) hostEnd = Number(m[2]);
        if (hostPort > 65535 || (hostEnd ?? 0) > 65535 || (hostEnd !== undefined && hostEnd < hostPort))
          throw new InvalidParameter(`invalid port specification: "${hp}"`);
      }
      out.push({
        host_ip: hostIp,
        host_port: hostPort,
        container_port: port,
        protocol,
        range: 1,
        ...(hostEnd !== undefined ? { hostEnd } : {}),
      });
    }
  }
  if (hc.PublishAllPorts) {
    for (const key of Object.keys(config.ExposedPorts ?? {})) {
      if (bindings[key]) continue;
      const [port, protocol] = portKey(key);
      out.push({ host_ip: '', host_port: 0, container_port: port, protocol, range: 1 });
    }
  }
  return out;
}

/** Host ranges become one port: the first of the range a bind succeeds on (the proxy binds it again at once). */
export async function choosePorts(wanted: PortRequest[]): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  for (const m of wanted) {
    const { hostEnd, ...base } = m;
    if (!hostEnd) {
      out.push(base);
      continue;
    }
    let chosen: number | undefined;
    for (let p = m.host_port; p <= hostEnd && chosen === undefined; p++) {
      if (out.some((o) => o.host_port === p && o.protocol === m.protocol)) continue;
      if (await portFree(m.host_ip || '0.0.0.0', p, m.protocol)) chosen = p;
    }
    if (chosen === undefined)
      throw new Conflict(
        `Bind for ${m.host_ip || '0.0.0.0'}:${m.host_port}-${hostEnd} failed: port is already allocated`,
      );
    out.push({ ...base, host_port: chosen });
  }
  return out;
}

async function portFree(host: string, port: number, protocol: 'tcp' | 'udp'): Promise<boolean> {
  const net = await import('node:net');
  const dgram = await import('node:dgram');
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind(port, host, () => {
        s.close();
        resolve(true);
      });
      return;
    }
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
