// IPv4 address management, after Docker's default IPAM: a network without a configured subnet
// takes the first free /16 of 172.17–172.31, then a /20 of 192.168.0.0/16, skipping what the
// host routes or other networks use; a container takes the first free address after the
// gateway (or a requested one).
import fs from 'node:fs';
import { Conflict, Forbidden, InvalidParameter } from '../errors.js';

export interface Cidr {
  base: number;
  bits: number;
}

export const ipToInt = (ip: string): number => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
export const intToIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

export function isIPv4(s: string): boolean {
  return /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s) && s.split('.').every((o) => Number(o) <= 255);
}

export function parseCidr(s: string): Cidr {
  const [ip, bitsText] = s.split('/');
  const bits = Number(bitsText);
  if (!ip || !isIPv4(ip) || bitsText === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) {
    if (ip && ip.includes(':')) throw new InvalidParameter('IPv6 is not supported by Strata networks');
    throw new InvalidParameter(`invalid CIDR address: ${s}`);
  }
  const size = 2 ** (32 - bits);
  return { base: Math.floor(ipToInt(ip) / size) * size, bits };
}

export const cidrString = (c: Cidr): string => `${intToIp(c.base)}/${c.bits}`;
const size = (c: Cidr) => 2 ** (32 - c.bits);
export const contains = (c: Cidr, ip: string): boolean => {
  const n = ipToInt(ip);
  return n >= c.base && n < c.base + size(c);
};
export const overlaps = (a: Cidr, b: Cidr): boolean => a.base < b.base + size(b) && b.base < a.base + size(a);

/** IPv4 routes of the host other than the default route, with their interface. */
export function hostRoutes(): { cidr: Cidr; iface: string }[] {
  let text = '';
  try {
    text = fs.readFileSync('/proc/net/route', 'utf8');
  } catch {
    return [];
  }
  const out: { cidr: Cidr; iface: string }[] = [];
  for (const line of text.trim().split('\n').slice(1)) {
    const [iface, destHex, , , , , , maskHex] = line.trim().split(/\s+/);
    if (!iface || !destHex || !maskHex) continue;
    const le = (h: string) => {
      const n = parseInt(h, 16);
      return (n & 0xff) * 2 ** 24 + (((n >>> 8) & 0xff) << 16) + (((n >>> 16) & 0xff) << 8) + ((n >>> 24) & 0xff);
    };
    const mask = le(maskHex);
    if (mask === 0) continue;
    const bits = mask.toString(2).replace(/0+$/, '').length;
    out.push({ cidr: { base: le(destHex), bits }, iface });
  }
  return out;
}

const POOLS: Cidr[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: ipToInt(`172.${17 + i}.0.0`), bits: 16 })),
  ...Array.from({ length: 16 }, (_, i) => ({ base: ipToInt(`192.168.${i * 16}.0`), bits: 20 })),
];

/** The first pool subnet no host route (except on `ownIface`) and no other network overlaps. */
export function pickSubnet(taken: Cidr[], ownIface?: string): Cidr {
  const routes = hostRoutes()
    .filter((r) => r.iface !== ownIface)
    .map((r) => r.cidr);
  for (const p of POOLS) {
    if (taken.some((t) => overlaps(t, p)) || routes.some((r) => overlaps(r, p))) continue;
    return p;
  }
  throw new Forbidden(
    'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
  );
}

/** Whether a host route on another interface than `ownIface` covers part of `c`. */
export function routedElsewhere(c: Cidr, ownIface: string): boolean {
  return hostRoutes().some((r) => r.iface !== ownIface && overlaps(r.cidr, c));
}

/** A free address of `subnet` (inside `range` when given), never the network, gateway or broadcast address. */
export function allocateAddress(
  subnet: Cidr,
  gateway: string,
  used: Set<string>,
  range?: Cidr,
  requested?: string,
): string {
  const first = subnet.base + 1;
  const last = subnet.base + size(subnet) - 2;
  if (requested) {
    if (!isIPv4(requested)) throw new InvalidParameter(`invalid IPv4 address: ${requested}`);
    const n = ipToInt(requested);
    if (n < first || n > last)
      throw new InvalidParameter(
        `no available IPv4 addresses on this network's address pools: ${requested} is not in ${cidrString(subnet)}`,
      );
    if (requested === gateway || used.has(requested)) throw new Conflict('Address already in use');
    return requested;
  }
  const lo = range ? Math.max(first, range.base) : first;
  const hi = range ? Math.min(last, range.base + size(range) - 1) : last;
  for (let n = lo; n <= hi; n++) {
    const ip = intToIp(n);
    if (ip !== gateway && !used.has(ip)) return ip;
  }
  throw new Conflict("no available IPv4 addresses on this network's address pools");
}

/** Docker's MAC for an address: 02:42 and the four bytes of the IPv4 address. */
export function macOf(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}
