// netavark, podman's network stack, driven as a command: the network options JSON on stdin
// and a namespace path; it makes the bridge, the veth pair, addresses, routes, firewall
// (masquerade, isolation, port DNAT) and starts aardvark-dns for networks with DNS. Teardown
// with the same JSON undoes it, removing the bridge and its rules with the last container.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import type { NetworkRecord, PortMapping } from './types.js';

export interface NetavarkOptions {
  container_id: string;
  container_name: string;
  networks: Record<string, { interface_name: string; static_ips: string[]; static_mac?: string; aliases?: string[] }>;
  network_info: Record<string, Record<string, unknown>>;
  port_mappings?: PortMapping[];
  dns_servers?: string[];
}

export interface StatusBlock {
  dns_server_ips?: string[];
  dns_search_domains?: string[];
  interfaces?: Record<string, { mac_address: string; subnets?: { ipnet: string; gateway?: string }[] }>;
}

const SEARCH = ['/usr/lib/podman', '/usr/libexec/podman', '/usr/local/libexec/podman', '/usr/local/lib/podman'];

export function findHelper(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH]) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * netavark's description of one network (its types::Network). netavark names the network's
 * firewall chains and DNS table after `name`: the ID keeps them apart from another daemon's
 * (or podman's) network of the same name on this host.
 */
export function networkInfo(n: NetworkRecord): Record<string, unknown> {
  return {
    name: n.Id,
    id: n.Id,
    driver: 'bridge',
    network_interface: n.bridge,
    subnets: [{ subnet: n.Subnet, ...(n.Internal ? {} : { gateway: n.Gateway }) }],
    ipv6_enabled: false,
    internal: n.Internal,
    dns_enabled: n.dns,
    options: {},
    ipam_options: { driver: 'host-local' },
  };
}

export class Netavark {
  constructor(
    private readonly configDir: string,
    private readonly bin: string,
    private readonly aardvark?: string,
  ) {
    fs.mkdirSync(configDir, { recursive: true, mode: 0o700 });
  }

  setup(netns: string, opts: NetavarkOptions): Promise<Record<string, StatusBlock>> {
    return this.run('setup', netns, opts).then((out) => JSON.parse(out || '{}') as Record<string, StatusBlock>);
  }

  async teardown(netns: string, opts: NetavarkOptions): Promise<void> {
    await this.run('teardown', netns, opts);
  }

  private run(verb: 'setup' | 'teardown', netns: string, opts: NetavarkOptions): Promise<string> {
    const args = [
      '--config',
      this.configDir,
      '--rootless',
      'false',
      ...(this.aardvark ? ['--aardvark-binary', this.aardvark] : []),
      verb,
      netns,
    ];
    return new Promise((resolve, reject) => {
      const child = spawn(this.bin, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, PATH: process.env.PATH || '/usr/sbin:/usr/bin:/sbin:/bin' },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) return resolve(out);
        let msg = err.trim() || out.trim();
        try {
          msg = (JSON.parse(out) as { error?: string }).error ?? msg;
        } catch {
          /* plain text */
        }
        reject(new Error(`netavark ${verb}: ${msg}`));
      });
      child.stdin.end(JSON.stringify(opts));
    });
  }
}

/**
 * netavark 1.4 removes a network's port-forwarding chain (NETAVARK-DN-<hash>) only when the
 * container torn down last published ports itself; otherwise the chain stays, empty. The
 * daemon removes it when the network has no endpoint left (iptables refuses to delete a chain
 * that still has rules or references, so this never takes one in use).
 */
export async function removeEmptyPortChain(networkId: string): Promise<void> {
  const hash = createHash('sha512').update(networkId).digest('hex').toUpperCase().slice(0, 13);
  await new Promise<void>((resolve) => {
    execFile('iptables', ['-w', '-t', 'nat', '-X', `NETAVARK-DN-${hash}`], () => resolve());
  });
}
