// What the kernel lets containers be limited by, as /info reports it (dockerd's pkg/sysinfo):
// read from the cgroup hierarchy the host really has, so `docker info` warns where a limit would
// be silently ignored. cgroup v1 (and hybrid) looks at the files each controller's mount offers;
// the unified v2 hierarchy at the controllers the root group has. Networking flags come from
// /proc/sys, a missing file meaning off.
import fs from 'node:fs';
import path from 'node:path';

export interface HostCapabilities {
  MemoryLimit: boolean;
  SwapLimit: boolean;
  KernelMemory: boolean;
  KernelMemoryTCP: boolean;
  CpuCfsPeriod: boolean;
  CpuCfsQuota: boolean;
  CPUShares: boolean;
  CPUSet: boolean;
  PidsLimit: boolean;
  IPv4Forwarding: boolean;
  BridgeNfIptables: boolean;
  BridgeNfIp6tables: boolean;
  OomKillDisable: boolean;
  CgroupVersion: '1' | '2';
  /** dockerd's wording for each missing capability, in its order. */
  warnings: string[];
}

export interface HostPaths {
  /** Where the cgroup hierarchy is mounted on this host. */
  cgroupRoot: string;
  /** /proc/self/mountinfo, to find each v1 controller's mount. */
  mountinfo: string;
  procSys: string;
}

const HOST: HostPaths = {
  cgroupRoot: '/sys/fs/cgroup',
  mountinfo: '/proc/self/mountinfo',
  procSys: '/proc/sys',
};

export function hostCapabilities(paths: HostPaths = HOST): HostCapabilities {
  const controllers = readText(path.join(paths.cgroupRoot, 'cgroup.controllers'));
  const caps = controllers !== undefined ? cgroupV2(controllers) : cgroupV1(paths.mountinfo);
  const procBool = (p: string) => readText(path.join(paths.procSys, p))?.trim() === '1';
  const all = {
    ...caps,
    IPv4Forwarding: procBool('net/ipv4/ip_forward'),
    BridgeNfIptables: procBool('net/bridge/bridge-nf-call-iptables'),
    BridgeNfIp6tables: procBool('net/bridge/bridge-nf-call-ip6tables'),
  };
  return { ...all, warnings: warningsOf(all) };
}

type CgroupCaps = Omit<HostCapabilities, 'IPv4Forwarding' | 'BridgeNfIptables' | 'BridgeNfIp6tables' | 'warnings'>;

/** v2 has no kernel-memory or oom-kill-disable knobs; swap comes with the memory controller. */
function cgroupV2(controllersFile: string): CgroupCaps {
  const has = new Set(controllersFile.trim().split(/\s+/));
  const memory = has.has('memory');
  const cpu = has.has('cpu');
  return {
    MemoryLimit: memory,
    SwapLimit: memory,
    KernelMemory: false,
    KernelMemoryTCP: false,
    CpuCfsPeriod: cpu,
    CpuCfsQuota: cpu,
    CPUShares: cpu,
    CPUSet: has.has('cpuset'),
    PidsLimit: has.has('pids'),
    OomKillDisable: false,
    CgroupVersion: '2',
  };
}

/** Each v1 controller's mount point (the first mount whose options name it). */
function v1Mounts(mountinfo: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (readText(mountinfo) ?? '').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts = ''] = post.split(' ');
    if (fstype !== 'cgroup') continue;
    const mountPoint = unescapeMountinfo(pre.split(' ')[4] ?? '');
    for (const opt of superOpts.split(',')) if (!out.has(opt)) out.set(opt, mountPoint);
  }
  return out;
}

function cgroupV1(mountinfo: string): CgroupCaps {
  const mounts = v1Mounts(mountinfo);
  const offers = (controller: string, file: string) => {
    const dir = mounts.get(controller);
    return dir !== undefined && fs.existsSync(path.join(dir, file));
  };
  const memory = mounts.has('memory');
  return {
    MemoryLimit: memory,
    SwapLimit: offers('memory', 'memory.memsw.limit_in_bytes'),
    KernelMemory: offers('memory', 'memory.kmem.limit_in_bytes'),
    KernelMemoryTCP: offers('memory', 'memory.kmem.tcp.limit_in_bytes'),
    CpuCfsPeriod: offers('cpu', 'cpu.cfs_period_us'),
    CpuCfsQuota: offers('cpu', 'cpu.cfs_quota_us'),
    CPUShares: offers('cpu', 'cpu.shares'),
    CPUSet: mounts.has('cpuset'),
    PidsLimit: mounts.has('pids'),
    OomKillDisable: offers('memory', 'memory.oom_control'),
    CgroupVersion: '1',
  };
}

function warningsOf(c: Omit<HostCapabilities, 'warnings'>): string[] {
  const v1 = c.CgroupVersion === '1';
  const checks: [boolean, string][] = [
    [c.MemoryLimit, 'No memory limit support'],
    [c.SwapLimit, 'No swap limit support'],
    // v2 has no such knobs at all, so dockerd does not warn about them there.
    [c.KernelMemoryTCP || !v1, 'No kernel memory TCP limit support'],
    [c.OomKillDisable || !v1, 'No oom kill disable support'],
    [c.CpuCfsQuota, 'No cpu cfs quota support'],
    [c.CpuCfsPeriod, 'No cpu cfs period support'],
    [c.CPUShares, 'No cpu shares support'],
    [c.CPUSet, 'No cpuset support'],
    [c.IPv4Forwarding, 'IPv4 forwarding is disabled'],
    [c.BridgeNfIptables, 'bridge-nf-call-iptables is disabled'],
    [c.BridgeNfIp6tables, 'bridge-nf-call-ip6tables is disabled'],
  ];
  return checks.filter(([ok]) => !ok).map(([, w]) => `WARNING: ${w}`);
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** mountinfo writes space, tab, newline and backslash in paths as octal escapes. */
const unescapeMountinfo = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
