// The files Docker keeps per container outside its layers and bind-mounts over /etc, and the
// init layer (Docker's <id>-init) that gives every container its mountpoints, so that runc
// never has to create them in the writable layer (they would show in `docker diff`).
import fs from 'node:fs';
import path from 'node:path';
import { secureJoin } from '../runtime/rootfs-path.js';

export interface EtcFiles {
  hosts: string;
  hostname: string;
  resolvConf: string;
}

export function etcFilesOf(containerDir: string): EtcFiles {
  return {
    hosts: path.join(containerDir, 'hosts'),
    hostname: path.join(containerDir, 'hostname'),
    resolvConf: path.join(containerDir, 'resolv.conf'),
  };
}

/** Writes hostname, hosts and resolv.conf as Docker does for a container sharing the host's network. */
export interface DnsConfig {
  servers: string[];
  search: string[];
  options: string[];
}

/** A container with its own network: its address in /etc/hosts, and the network's DNS server (aardvark-dns), if any. */
export interface OwnNetwork {
  address?: string;
  nameservers: string[];
}

export function writeEtcFiles(
  containerDir: string,
  hostname: string,
  domainname: string,
  extraHosts: string[],
  dns?: DnsConfig,
  net?: OwnNetwork,
  predefined?: 'host' | 'none',
): EtcFiles {
  const files = etcFilesOf(containerDir);
  fs.writeFileSync(files.hostname, hostname + '\n', { mode: 0o644 });
  fs.writeFileSync(files.hosts, hostsFile(hostname, domainname, extraHosts, net, predefined), { mode: 0o644 });
  let resolv = '';
  try {
    resolv = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    resolv = 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n';
  }
  if (dns && (dns.servers.length || dns.search.length || dns.options.length)) {
    // --dns/--dns-search/--dns-option replace the host's corresponding lines (libnetwork's resolvconf.Build).
    const keep = resolv
      .split('\n')
      .filter(
        (l) =>
          !(dns.servers.length && /^\s*nameserver\b/.test(l)) &&
          !(dns.search.length && /^\s*(search|domain)\b/.test(l)) &&
          !(dns.options.length && /^\s*options\b/.test(l)) &&
          l.trim() !== '',
      );
    resolv =
      [
        ...(dns.search.length ? [`search ${dns.search.join(' ')}`] : []),
        ...dns.servers.map((s) => `nameserver ${s}`),
        ...(dns.options.length ? [`options ${dns.options.join(' ')}`] : []),
        ...keep,
      ].join('\n') + '\n';
  }
  if (net) resolv = networkResolvConf(resolv, net.nameservers);
  fs.writeFileSync(files.resolvConf, resolv, { mode: 0o644 });
  return files;
}

/**
 * /etc/hosts as libnetwork writes it: on a network of the container's own, a line for its
 * address; on the predefined none and host networks no such line (dockerd 20.10), and on the
 * host's network without --add-host a copy of the host's own file.
 */
function hostsFile(
  hostname: string,
  domainname: string,
  extraHosts: string[],
  net: OwnNetwork | undefined,
  predefined: 'host' | 'none' | undefined,
): string {
  if (predefined === 'host' && extraHosts.length === 0) {
    try {
      return fs.readFileSync('/etc/hosts', 'utf8');
    } catch {
      /* no file on the host: the default content below */
    }
  }
  const fqdn = domainname ? `${hostname}.${domainname} ${hostname}` : hostname;
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    ...extraHosts.map((h) => {
      const i = h.indexOf(':');
      return `${h.slice(i + 1)}\t${h.slice(0, i)}`;
    }),
    ...(predefined ? [] : [`${net?.address ?? '127.0.1.1'}\t${fqdn}`]),
  ];
  return lines.join('\n') + '\n';
}

const INIT_DIRS = ['/dev/pts', '/dev/shm', '/proc', '/sys', '/etc'];
const INIT_FILES = ['/.dockerenv', '/etc/resolv.conf', '/etc/hosts', '/etc/hostname', '/dev/console'];

/** Fills a mounted init layer: Docker's initlayer.Setup, creating only what the image lacks. */
export function setupInitLayer(root: string): void {
  const exists = (p: string) => {
    try {
      fs.lstatSync(secureJoin(root, p));
      return true;
    } catch {
      return false;
    }
  };
  for (const dir of INIT_DIRS) {
    if (exists(dir)) continue;
    fs.mkdirSync(secureJoin(root, dir), { recursive: true, mode: 0o755 });
  }
  for (const file of INIT_FILES) {
    if (exists(file)) continue;
    fs.mkdirSync(path.dirname(secureJoin(root, file)), { recursive: true, mode: 0o755 });
    fs.writeFileSync(secureJoin(root, file), '', { mode: 0o755 });
  }
  if (!exists('/etc/mtab')) fs.symlinkSync('/proc/mounts', secureJoin(root, '/etc/mtab'));
}

/**
 * resolv.conf in a network namespace: the network's DNS server replaces the host's nameservers
 * (it forwards what it does not know to them and to --dns); without one, the host's loopback
 * nameservers are unreachable from the container and go, with Google's as the last resort
 * (libnetwork's FilterResolvDNS).
 */
function networkResolvConf(resolv: string, nameservers: string[]): string {
  const lines = resolv.split('\n').filter((l) => l.trim() !== '');
  const others = lines.filter((l) => !/^\s*nameserver\b/.test(l));
  let servers = lines.filter((l) => /^\s*nameserver\b/.test(l)).map((l) => l.trim().split(/\s+/)[1]!);
  if (nameservers.length) {
    servers = nameservers;
    // Docker's embedded DNS setting: every name goes to the network's server first.
    if (!others.some((l) => /^\s*options\b.*\bndots:/.test(l))) others.push('options ndots:0');
  } else {
    servers = servers.filter((s) => !/^127\./.test(s) && s !== '::1');
    if (servers.length === 0) servers = ['8.8.8.8', '8.8.4.4'];
  }
  return [...servers.map((s) => `nameserver ${s}`), ...others].join('\n') + '\n';
}
