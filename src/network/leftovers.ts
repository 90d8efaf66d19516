// Kernel objects a data-root's networks made and no running container owns any more: the
// bridge and netavark's per-network chains (NETAVARK-<hash> in nat, NETAVARK-DN-<hash>) with
// the rules that reach them, left by a daemon that was killed with containers running and whose
// exec-root (netavark's inputs, the namespaces) is gone. Both the daemon's start and the
// scripts that run a daemon on a scratch data-root remove them through here.
//
// The removal is netavark's own complete teardown, driven from a scratch namespace holding an
// interface named like the container's: netavark refuses to go on when the container's veth
// is missing, and tears the bridge and the network's rules down once no other interface is
// connected to the bridge. Everything named here derives from the network's random ID (the
// bridge `br-<id>` and the chains' hashes), so a daemon on another data-root, whose networks
// have other IDs, never loses an object of its own; a bridge that still has a port is in use
// and netavark leaves it.
//
// netavark's teardown stops at the first firewall rule it cannot delete: a bridge whose chains
// went without it (a crash between making the bridge and its rules, a host firewall reload) is
// a teardown that fails. What it leaves is then removed directly: the bridge when no port is
// left on it, netavark's rules for the network's subnet in its shared filter chains (named by
// the subnet, not the ID), and the network's own nat chains with the rules that jump to them.
// `docker network rm` and prune remove a network's objects through here too, before its row.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { intToIp, ipToInt, parseCidr } from './ipam.js';
import { findHelper, Netavark, networkInfo, removeEmptyPortChain, type NetavarkOptions } from './netavark.js';
import { removeNetns } from './netns.js';
import type { NetworkRecord } from './types.js';

const run = promisify(execFile);

/**
 * Tears down every setup whose netavark input a daemon kept beside its namespace under
 * `netnsDir` (a daemon that was killed), then removes the namespaces. Returns what was torn
 * down ("setup of container <id> on <bridges>") and one line per setup that failed.
 */
export async function tearDownKeptSetups(
  netnsDir: string,
  netavark: Netavark | undefined,
): Promise<{ removed: string[]; failed: string[] }> {
  const removed: string[] = [];
  const failed: string[] = [];
  if (!fs.existsSync(netnsDir)) return { removed, failed };
  for (const f of fs.readdirSync(netnsDir)) {
    if (!f.endsWith('.json')) continue;
    const id = f.slice(0, -5);
    const ns = path.join(netnsDir, id);
    try {
      const opts = JSON.parse(fs.readFileSync(path.join(netnsDir, f), 'utf8')) as NetavarkOptions;
      if (netavark && fs.existsSync(ns)) {
        await netavark.teardown(ns, opts);
        const bridges = Object.values(opts.network_info).map((n) => String(n.network_interface));
        removed.push(`setup of container ${id} on ${bridges.join(', ')}`);
      }
      for (const netId of Object.keys(opts.network_info)) await removeEmptyPortChain(netId);
    } catch (e) {
      failed.push(`${id}: ${e}`);
    }
    fs.rmSync(path.join(netnsDir, f), { force: true });
  }
  for (const f of fs.readdirSync(netnsDir)) await removeNetns(path.join(netnsDir, f));
  return { removed, failed };
}

/** The hash netavark names a network's chains with (NETAVARK-<hash>, NETAVARK-DN-<hash>). */
export function chainHash(networkId: string): string {
  return createHash('sha512').update(networkId).digest('hex').toUpperCase().slice(0, 13);
}

/** The nat table's chain names, or an empty set where iptables is missing. */
async function natChains(): Promise<Set<string>> {
  try {
    const { stdout } = await run('iptables-save', ['-t', 'nat']);
    return new Set([...stdout.matchAll(/^:(\S+) /gm)].map((m) => m[1]!));
  } catch {
    return new Set();
  }
}

/** What of network `n` exists on the host: its bridge, its chains. */
function objectsOf(n: NetworkRecord, chains: Set<string>): string[] {
  const found: string[] = [];
  if (n.bridge && fs.existsSync(`/sys/class/net/${n.bridge}`)) found.push(`bridge ${n.bridge}`);
  const hash = chainHash(n.Id);
  for (const c of [`NETAVARK-${hash}`, `NETAVARK-DN-${hash}`]) if (chains.has(c)) found.push(`iptables chain ${c}`);
  return found;
}

/**
 * Whether anything hints that a killed daemon left network objects behind: a bridge of one of
 * `networks` still on the host (a daemon that stops cleanly removes each bridge with its last
 * container, and a bridge outlives a killed daemon and its exec-root), or DNS state in the
 * exec-root's netavark directory (`configDir`). Only then is it worth listing the nat table
 * (an iptables-save) and every process (for a stray aardvark-dns): a clean start does neither.
 * A network's chains whose bridge someone else deleted are not looked for.
 */
export function networkLeftoverTraces(networks: NetworkRecord[], configDir: string): boolean {
  if (
    networks.some((n) => n.Driver === 'bridge' && n.Subnet && n.bridge && fs.existsSync(`/sys/class/net/${n.bridge}`))
  )
    return true;
  try {
    return fs.readdirSync(path.join(configDir, 'aardvark-dns')).length > 0;
  } catch {
    return false;
  }
}

/** A namespace with an interface named `eth0` for netavark's teardown to delete in place of the lost veth. */
async function scratchNamespace(file: string): Promise<void> {
  fs.writeFileSync(file, '', { mode: 0o600 });
  await run('unshare', [`--net=${file}`, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
}

/** The words of an iptables-save rule, its double-quoted comments kept whole. */
function ruleWords(spec: string): string[] {
  return [...spec.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!,
  );
}

/** netavark's chains of the filter table that hold rules for every network, told apart by subnet only. */
const SHARED_FILTER_CHAINS = ['NETAVARK_FORWARD', 'NETAVARK_INPUT'];

/** `cidr` in the form iptables prints it (its network address), or undefined if it is none. */
function canonicalCidr(cidr: string): string | undefined {
  try {
    const c = parseCidr(cidr);
    return `${intToIp(c.base)}/${c.bits}`;
  } catch {
    return undefined;
  }
}

/** Whether an interface other than `bridge` has an IPv4 address inside `subnet`. */
async function subnetOnAnotherInterface(subnet: string, bridge: string | undefined): Promise<boolean> {
  const c = parseCidr(subnet);
  const size = 2 ** (32 - c.bits);
  const { stdout } = await run('ip', ['-o', '-4', 'addr', 'show']).catch(() => ({ stdout: '' }));
  for (const line of stdout.split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+([\d.]+)\//.exec(line);
    if (!m || m[1] === bridge) continue;
    const ip = ipToInt(m[2]!);
    if (ip >= c.base && ip < c.base + size) return true;
  }
  return false;
}

/** The rules of netavark's shared filter chains that name `subnet` (canonical) as source or destination. */
async function subnetRules(subnet: string): Promise<{ chain: string; words: string[] }[]> {
  const found: { chain: string; words: string[] }[] = [];
  for (const chain of SHARED_FILTER_CHAINS) {
    const { stdout } = await run('iptables', ['-w', '-t', 'filter', '-S', chain]).catch(() => ({ stdout: '' }));
    for (const line of stdout.split('\n')) {
      const m = /^-A (\S+) (.*)$/.exec(line);
      if (!m || m[1] !== chain) continue;
      const words = ruleWords(m[2]!);
      if (words.some((w, i) => (w === '-s' || w === '-d') && canonicalCidr(words[i + 1] ?? '') === subnet))
        found.push({ chain, words });
    }
  }
  return found;
}

/**
 * netavark's rules for `n`'s subnet in its shared filter chains (NETAVARK_FORWARD: traffic from
 * and back to the subnet accepted), deleted one by one, exactly as listed. They are named by
 * the subnet only, so they stay while another interface on the host (another data-root's
 * network on the same subnet) has an address in it: they may be that network's.
 */
async function removeSubnetRules(n: NetworkRecord): Promise<void> {
  const subnet = n.Subnet && canonicalCidr(n.Subnet);
  if (!subnet || (await subnetOnAnotherInterface(subnet, n.bridge))) return;
  for (const { chain, words } of await subnetRules(subnet))
    await run('iptables', ['-w', '-t', 'filter', '-D', chain, ...words]).catch(() => undefined);
}

/**
 * What netavark's teardown of `n` left, removed without it: the bridge unless a port is still
 * on it (then it is in use), the rules of its subnet in netavark's shared filter chains, and the
 * network's nat chains, the rules jumping to them first. Errors are not thrown: the caller looks
 * at what is left.
 */
async function removeDirectly(n: NetworkRecord): Promise<void> {
  const sys = `/sys/class/net/${n.bridge}`;
  const inUse = !!n.bridge && fs.existsSync(sys) && fs.readdirSync(path.join(sys, 'brif')).length > 0;
  if (n.bridge && fs.existsSync(sys) && !inUse)
    await run('ip', ['link', 'delete', n.bridge, 'type', 'bridge']).catch(() => undefined);
  // A bridge still in use keeps the rules its containers' traffic passes through.
  if (!inUse) await removeSubnetRules(n);
  const hash = chainHash(n.Id);
  const own = [`NETAVARK-${hash}`, `NETAVARK-DN-${hash}`];
  const chains = await natChains();
  if (!own.some((c) => chains.has(c))) return;
  const { stdout } = await run('iptables-save', ['-t', 'nat']).catch(() => ({ stdout: '' }));
  for (const line of stdout.split('\n')) {
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (!m || own.includes(m[1]!)) continue;
    const words = ruleWords(m[2]!);
    const target = words[words.indexOf('-j') + 1];
    if (!words.includes('-j') || !own.includes(target ?? '')) continue;
    await run('iptables', ['-w', '-t', 'nat', '-D', m[1]!, ...words]).catch(() => undefined);
  }
  for (const c of own.filter((x) => chains.has(x))) {
    await run('iptables', ['-w', '-t', 'nat', '-F', c]).catch(() => undefined);
    await run('iptables', ['-w', '-t', 'nat', '-X', c]).catch(() => undefined);
  }
}

/**
 * Removes what bridge networks in `networks` left on the host, none of which may have a running
 * endpoint. Returns what was removed ("bridge br-…", "iptables chain NETAVARK-…"), one entry
 * per object, for the caller to log; a network whose teardown fails is named in `failed`.
 */
export async function removeNetworkLeftovers(
  networks: NetworkRecord[],
  configDir: string,
): Promise<{ removed: string[]; failed: string[] }> {
  const removed: string[] = [];
  const failed: string[] = [];
  const bridges = networks.filter((n) => n.Driver === 'bridge' && n.Subnet);
  if (bridges.length === 0) return { removed, failed };
  const chains = await natChains();
  const bin = findHelper('netavark');
  for (const n of bridges) {
    const found = objectsOf(n, chains);
    if (found.length === 0) continue;
    if (!bin) {
      failed.push(`${n.Name}: netavark is not installed`);
      continue;
    }
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-netleft-'));
    const ns = path.join(scratch, 'ns');
    try {
      await scratchNamespace(ns);
      const subnet = parseCidr(n.Subnet!);
      const opts: NetavarkOptions = {
        container_id: `leftover-${n.Id}`,
        container_name: `leftover-${n.Id.slice(0, 12)}`,
        networks: { [n.Id]: { interface_name: 'eth0', static_ips: [intToIp(subnet.base + 2)] } },
        // Its DNS entries went with the exec-root (and stopStrayAardvark ends the server).
        network_info: { [n.Id]: { ...networkInfo(n), dns_enabled: false } },
      };
      let refused: Error | undefined;
      await new Netavark(configDir, bin, findHelper('aardvark-dns')).teardown(ns, opts).catch((err: Error) => {
        refused = err;
      });
      await removeEmptyPortChain(n.Id);
      let after = objectsOf(n, await natChains());
      if (after.length) {
        await removeDirectly(n);
        after = objectsOf(n, await natChains());
      }
      removed.push(...found.filter((o) => !after.includes(o)));
      if (after.length)
        failed.push(`${n.Name}: still there: ${after.join(', ')}${refused ? ` (${refused.message.trim()})` : ''}`);
    } catch (err) {
      failed.push(`${n.Name}: ${(err as Error).message}`);
    } finally {
      await removeNetns(ns);
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
  return { removed, failed };
}

/**
 * Ends the aardvark-dns servers netavark started with their configuration under `configDir`
 * (this exec-root's) and that no kept setup stopped: a killed daemon's, whose inputs are gone.
 * Returns what was ended ("aardvark-dns pid N").
 */
export function stopStrayAardvark(configDir: string): string[] {
  const want = path.join(configDir, 'aardvark-dns');
  const ended: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (path.basename(argv[0] ?? '') !== 'aardvark-dns') continue;
    const i = argv.indexOf('--config');
    if (i < 0 || argv[i + 1] !== want) continue;
    try {
      process.kill(Number(pid), 'SIGTERM');
      ended.push(`aardvark-dns pid ${pid}`);
    } catch {
      /* gone already */
    }
  }
  return ended;
}
