// Where a repository lives and how to reach it: the registry host a reference names
// (docker.io → registry-1.docker.io), mirrors tried first for Docker Hub, and whether the host is
// spoken to over verified TLS, TLS with the CA/client certificate of certs.d, or (insecure
// registries: loopback by default, as in Docker, plus daemon.json's list) unverified TLS falling
// back to plain HTTP.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { defaultDomain } from '../image/reference.js';

export interface RegistryOptions {
  /** daemon.json `insecure-registries`: host[:port] or CIDR. */
  insecureRegistries: string[];
  /** daemon.json `registry-mirrors`: URLs tried before Docker Hub. */
  mirrors: string[];
  /** Root of the per-registry TLS material (`<dir>/<host:port>/{ca.crt,client.cert,client.key}`). */
  certsDir: string;
}

export const DEFAULT_CERTS_DIR = '/etc/docker/certs.d';
const HUB_HOST = 'registry-1.docker.io';

export interface TlsMaterial {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
}

export interface Endpoint {
  /** Base URL (scheme://host[:port]) the v2 API is under. */
  url: URL;
  /** Skip certificate verification (insecure registries only). */
  insecure: boolean;
  /** May fall back to plain HTTP when TLS fails (insecure registries only). */
  plainHttpFallback: boolean;
  tls: TlsMaterial;
  mirror: boolean;
}

/** A repository as the registry knows it: the host and the path under /v2/. */
export interface Repository {
  /** The registry's name as written in references (docker.io, localhost:5000). */
  registry: string;
  /** The repository path under /v2/ (library/busybox). */
  path: string;
  /** Full normalized name (docker.io/library/busybox). */
  name: string;
}

export function repositoryOf(name: string): Repository {
  const i = name.indexOf('/');
  return { registry: name.slice(0, i), path: name.slice(i + 1), name };
}

/** The registry host of a `docker login` server address (`https://index.docker.io/v1/` is Docker Hub). */
export function registryOfServerAddress(address: string): string {
  let s = address.trim().replace(/^https?:\/\//, '');
  s = s.replace(/\/.*$/, '');
  if (s === '' || s === 'index.docker.io' || s === 'registry-1.docker.io' || s === defaultDomain) return defaultDomain;
  return s;
}

function hostOnly(hostport: string): string {
  if (hostport.startsWith('[')) return hostport.slice(1, hostport.indexOf(']'));
  const c = hostport.lastIndexOf(':');
  return c > 0 && hostport.indexOf(':') === c ? hostport.slice(0, c) : hostport;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  if (!base || !Number.isInteger(bits) || net.isIP(base) !== net.isIP(ip)) return false;
  const list = new net.BlockList();
  list.addSubnet(base, bits, net.isIP(base) === 6 ? 'ipv6' : 'ipv4');
  return list.check(ip, net.isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

/** Docker treats loopback registries and the configured ones as insecure. */
export function isInsecure(registry: string, opts: RegistryOptions): boolean {
  const host = hostOnly(registry);
  if (host === 'localhost') return true;
  if (net.isIP(host) === 4 && inCidr(host, '127.0.0.0/8')) return true;
  if (host === '::1') return true;
  for (const entry of opts.insecureRegistries) {
    if (entry === registry || entry === host) return true;
    if (entry.includes('/') && net.isIP(host) && inCidr(host, entry)) return true;
  }
  return false;
}

function readIf(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** ca.crt (any *.crt), client.cert and client.key from `<certsDir>/<registry>/`. */
export function tlsMaterialFor(registry: string, certsDir: string): TlsMaterial {
  const dir = path.join(certsDir, registry.replace(/\//g, ''));
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return {};
  }
  const out: TlsMaterial = {};
  const cas = names
    .filter((n) => n.endsWith('.crt'))
    .map((n) => readIf(path.join(dir, n)))
    .filter((b): b is Buffer => !!b);
  if (cas.length) out.ca = cas;
  const cert = names.find((n) => n.endsWith('.cert'));
  if (cert) {
    out.cert = readIf(path.join(dir, cert));
    out.key = readIf(path.join(dir, cert.replace(/\.cert$/, '.key')));
  }
  return out;
}

/** Endpoints to try, in order: mirrors (Docker Hub only), then the registry itself. */
export function endpointsFor(registry: string, opts: RegistryOptions): Endpoint[] {
  const out: Endpoint[] = [];
  if (registry === defaultDomain) {
    for (const m of opts.mirrors) {
      const url = new URL(m);
      const insecure = isInsecure(url.host, opts);
      out.push({
        url: new URL(url.origin),
        insecure,
        plainHttpFallback: false,
        tls: tlsMaterialFor(url.host, opts.certsDir),
        mirror: true,
      });
    }
  }
  const host = registry === defaultDomain ? HUB_HOST : registry;
  const insecure = isInsecure(registry, opts);
  out.push({
    url: new URL(`https://${host}`),
    insecure,
    plainHttpFallback: insecure,
    tls: tlsMaterialFor(registry, opts.certsDir),
    mirror: false,
  });
  return out;
}
