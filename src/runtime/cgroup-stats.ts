// A running container's resource counters, read from the cgroup its init process is in
// (/proc/<pid>/cgroup names it, so this follows whatever cgroupsPath runc was given), on
// cgroup v1 (one hierarchy per controller) or v2 (one unified tree), and its network
// interfaces' counters from /proc/<pid>/net/dev (the process's own network namespace).
import fs from 'node:fs';
import path from 'node:path';

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface CgroupStats {
  version: 1 | 2;
  cpu: {
    total: number;
    perCpu: number[];
    user: number;
    system: number;
    periods: number;
    throttledPeriods: number;
    throttledTime: number;
  };
  memory: { usage: number; maxUsage?: number; limit: number; failcnt?: number; stats: Record<string, number> };
  pids: { current: number; limit?: number };
  blkio: { serviceBytes: BlkioEntry[]; serviced: BlkioEntry[] };
}

export interface NetDevStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

const ROOT = '/sys/fs/cgroup';
/** USER_HZ: the unit of cpuacct.stat. */
const NS_PER_TICK = 10_000_000;

const read = (p: string): string => {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};
const num = (p: string): number => {
  const t = read(p).trim();
  return t === '' || t === 'max' ? 0 : Number(t);
};
const keyed = (text: string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && v !== '' && !Number.isNaN(Number(v))) out[k] = Number(v);
  }
  return out;
};

/** The cgroup directory of each controller (v1) or the one unified directory (v2) of `pid`. */
function cgroupDirs(pid: number): { version: 1 | 2; dir: (controller: string) => string } | undefined {
  const text = read(`/proc/${pid}/cgroup`);
  if (!text) return undefined;
  const byController = new Map<string, string>();
  let unified: string | undefined;
  for (const line of text.trim().split('\n')) {
    const [, controllers, p] = line.split(':') as [string, string, string];
    if (controllers === '') unified = p;
    for (const c of controllers.split(',')) if (c) byController.set(c, p);
  }
  if (fs.existsSync(path.join(ROOT, 'cgroup.controllers')))
    return { version: 2, dir: () => path.join(ROOT, unified ?? '/') };
  return { version: 1, dir: (c) => path.join(ROOT, c, byController.get(c) ?? '/') };
}

/** Counters of the cgroup of `pid`; undefined when the process is gone. */
export function readCgroupStats(pid: number): CgroupStats | undefined {
  const cg = cgroupDirs(pid);
  if (!cg) return undefined;
  return cg.version === 1 ? readV1(cg.dir) : readV2(cg.dir(''));
}

function blkioV1(file: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of read(file).split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

function readV1(dir: (c: string) => string): CgroupStats {
  const acct = dir('cpuacct');
  const cpuStat = keyed(read(path.join(dir('cpu'), 'cpu.stat')));
  const ticks = keyed(read(path.join(acct, 'cpuacct.stat')));
  const mem = dir('memory');
  const blk = dir('blkio');
  // CFQ's files are empty on kernels without it; the throttle files always count.
  let bytes = blkioV1(path.join(blk, 'blkio.io_service_bytes_recursive'));
  let ios = blkioV1(path.join(blk, 'blkio.io_serviced_recursive'));
  if (bytes.length === 0) bytes = blkioV1(path.join(blk, 'blkio.throttle.io_service_bytes_recursive'));
  if (ios.length === 0) ios = blkioV1(path.join(blk, 'blkio.throttle.io_serviced_recursive'));
  const pidsMax = read(path.join(dir('pids'), 'pids.max')).trim();
  return {
    version: 1,
    cpu: {
      total: num(path.join(acct, 'cpuacct.usage')),
      perCpu: read(path.join(acct, 'cpuacct.usage_percpu')).trim().split(/\s+/).filter(Boolean).map(Number),
      user: (ticks.user ?? 0) * NS_PER_TICK,
      system: (ticks.system ?? 0) * NS_PER_TICK,
      periods: cpuStat.nr_periods ?? 0,
      throttledPeriods: cpuStat.nr_throttled ?? 0,
      throttledTime: cpuStat.throttled_time ?? 0,
    },
    memory: {
      usage: num(path.join(mem, 'memory.usage_in_bytes')),
      maxUsage: num(path.join(mem, 'memory.max_usage_in_bytes')),
      limit: num(path.join(mem, 'memory.limit_in_bytes')),
      failcnt: num(path.join(mem, 'memory.failcnt')),
      stats: keyed(read(path.join(mem, 'memory.stat'))),
    },
    pids: {
      current: num(path.join(dir('pids'), 'pids.current')),
      ...(pidsMax && pidsMax !== 'max' ? { limit: Number(pidsMax) } : {}),
    },
    blkio: { serviceBytes: bytes, serviced: ios },
  };
}

function readV2(dir: string): CgroupStats {
  const cpuStat = keyed(read(path.join(dir, 'cpu.stat')));
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of read(path.join(dir, 'io.stat')).split('\n')) {
    const [dev, ...pairs] = line.trim().split(/\s+/);
    if (!dev || !dev.includes(':')) continue;
    const [major, minor] = dev.split(':').map(Number) as [number, number];
    const kv = Object.fromEntries(pairs.map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
    bytes.push(
      { major, minor, op: 'read', value: kv.rbytes ?? 0 },
      { major, minor, op: 'write', value: kv.wbytes ?? 0 },
    );
    ios.push({ major, minor, op: 'read', value: kv.rios ?? 0 }, { major, minor, op: 'write', value: kv.wios ?? 0 });
  }
  const max = read(path.join(dir, 'memory.max')).trim();
  const pidsMax = read(path.join(dir, 'pids.max')).trim();
  return {
    version: 2,
    cpu: {
      total: (cpuStat.usage_usec ?? 0) * 1000,
      perCpu: [],
      user: (cpuStat.user_usec ?? 0) * 1000,
      system: (cpuStat.system_usec ?? 0) * 1000,
      periods: cpuStat.nr_periods ?? 0,
      throttledPeriods: cpuStat.nr_throttled ?? 0,
      throttledTime: (cpuStat.throttled_usec ?? 0) * 1000,
    },
    memory: {
      usage: num(path.join(dir, 'memory.current')),
      limit: max && max !== 'max' ? Number(max) : Number.MAX_SAFE_INTEGER,
      stats: keyed(read(path.join(dir, 'memory.stat'))),
    },
    pids: {
      current: num(path.join(dir, 'pids.current')),
      ...(pidsMax && pidsMax !== 'max' ? { limit: Number(pidsMax) } : {}),
    },
    blkio: { serviceBytes: bytes, serviced: ios },
  };
}

/** The host's total CPU time in nanoseconds (/proc/stat's first line), the base of docker stats' CPU %. */
export function systemCpuUsage(): number {
  const line = read('/proc/stat').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1, 8).map(Number);
  return fields.reduce((a, b) => a + b, 0) * NS_PER_TICK;
}

/** Interfaces of the network namespace `pid` is in, loopback left out (Docker lists the container's endpoints). */
export function readNetDev(pid: number): Record<string, NetDevStats> | undefined {
  const text = read(`/proc/${pid}/net/dev`);
  if (!text) return undefined;
  const out: Record<string, NetDevStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = {
      rx_bytes: f[0]!,
      rx_packets: f[1]!,
      rx_errors: f[2]!,
      rx_dropped: f[3]!,
      tx_bytes: f[8]!,
      tx_packets: f[9]!,
      tx_errors: f[10]!,
      tx_dropped: f[11]!,
    };
  }
  return out;
}
