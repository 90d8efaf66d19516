// The userland side of a published port, as Docker's docker-proxy: a socket bound on the host
// address and port reserves the port (a port another process holds is an error at start, in
// Docker's words) and forwards what reaches it to the container's address. netavark's DNAT
// rules carry most traffic; the socket still takes what the rules do not rewrite.
import net from 'node:net';
import dgram from 'node:dgram';
import { Conflict } from '../errors.js';
import type { PortMapping } from './types.js';

export interface ProxyHandle {
  mapping: PortMapping;
  close(): void;
}

const UDP_IDLE_MS = 60_000;

/** Binds one mapping (host_port 0: a port the kernel picks); resolves with the bound mapping. */
export async function startProxy(m: PortMapping, containerIp: string): Promise<ProxyHandle> {
  const host = m.host_ip || '0.0.0.0';
  return m.protocol === 'udp' ? udpProxy(m, host, containerIp) : tcpProxy(m, host, containerIp);
}

function bindError(m: PortMapping, host: string, err: NodeJS.ErrnoException): Error {
  const proto = m.protocol === 'udp' ? 'udp4' : 'tcp4';
  const what =
    err.code === 'EADDRINUSE'
      ? 'bind: address already in use'
      : err.code === 'EADDRNOTAVAIL'
        ? 'bind: cannot assign requested address'
        : err.message;
  return new Conflict(`Error starting userland proxy: listen ${proto} ${host}:${m.host_port}: ${what}`);
}

function tcpProxy(m: PortMapping, host: string, containerIp: string): Promise<ProxyHandle> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(m.container_port, containerIp);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(bindError(m, host, err as NodeJS.ErrnoException)));
    server.listen({ host, port: m.host_port, exclusive: true }, () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        mapping: { ...m, host_port: port },
        close: () => {
          server.close();
          for (const s of sockets) s.destroy();
        },
      });
    });
  });
}

function udpProxy(m: PortMapping, host: string, containerIp: string): Promise<ProxyHandle> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  const flows = new Map<string, { up: dgram.Socket; timer: NodeJS.Timeout }>();
  sock.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const up = dgram.createSocket('udp4');
      up.on('message', (reply) => sock.send(reply, from.port, from.address));
      up.on('error', () => undefined);
      flow = { up, timer: setTimeout(() => undefined, 0) };
      flows.set(key, flow);
    }
    clearTimeout(flow.timer);
    const f = flow;
    f.timer = setTimeout(() => {
      f.up.close();
      flows.delete(key);
    }, UDP_IDLE_MS);
    f.timer.unref();
    f.up.send(msg, m.container_port, containerIp);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', (err) => reject(bindError(m, host, err as NodeJS.ErrnoException)));
    sock.bind({ address: host, port: m.host_port, exclusive: true }, () => {
      const port = sock.address().port;
      resolve({
        mapping: { ...m, host_port: port },
        close: () => {
          sock.close();
          for (const f of flows.values()) {
            clearTimeout(f.timer);
            f.up.close();
          }
          flows.clear();
        },
      });
    });
  });
}
