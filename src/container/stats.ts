// docker stats: one sample of a container's cgroup and network counters in Docker's JSON
// (types.StatsJSON), with the previous sample as precpu_stats so that clients compute CPU %
// the way the docker CLI does. A container that is not running reads as zeroes, as in Docker.
import fs from 'node:fs';
import os from 'node:os';
import { readCgroupStats, readNetDev, systemCpuUsage } from '../runtime/cgroup-stats.js';
import type { ContainerRecord } from './types.js';
import { ZERO_TIME } from './context.js';

export type StatsJson = Record<string, unknown>;

const emptyCpu = () => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});
const nowNano = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');

/** One sample; `prev` (the last sample of the same stream) fills preread and precpu_stats. */
export function statsSample(rec: ContainerRecord, prev?: StatsJson): StatsJson {
  const base: StatsJson = {
    read: ZERO_TIME,
    preread: ZERO_TIME,
    pids_stats: {},
    blkio_stats: emptyBlkio(),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: emptyCpu(),
    precpu_stats: emptyCpu(),
    memory_stats: {},
    name: `/${rec.name}`,
    id: rec.id,
  };
  const pid = rec.state.Running ? rec.state.Pid : 0;
  const cg = pid ? readCgroupStats(pid) : undefined;
  if (!cg) return base;
  const online = os.cpus().length;
  const cpu_stats = {
    cpu_usage: {
      total_usage: cg.cpu.total,
      ...(cg.cpu.perCpu.length ? { percpu_usage: cg.cpu.perCpu } : {}),
      usage_in_kernelmode: cg.cpu.system,
      usage_in_usermode: cg.cpu.user,
    },
    system_cpu_usage: systemCpuUsage(),
    online_cpus: online,
    throttling_data: {
      periods: cg.cpu.periods,
      throttled_periods: cg.cpu.throttledPeriods,
      throttled_time: cg.cpu.throttledTime,
    },
  };
  // An unlimited cgroup reports a huge limit: Docker shows the machine's memory instead.
  const machine = os.totalmem();
  const memory_stats = {
    usage: cg.memory.usage,
    ...(cg.memory.maxUsage !== undefined ? { max_usage: cg.memory.maxUsage } : {}),
    stats: cg.memory.stats,
    ...(cg.memory.failcnt ? { failcnt: cg.memory.failcnt } : {}),
    limit: cg.memory.limit > machine || cg.memory.limit === 0 ? machine : cg.memory.limit,
  };
  const out: StatsJson = {
    ...base,
    read: nowNano(),
    preread: (prev?.read as string | undefined) ?? ZERO_TIME,
    pids_stats: { current: cg.pids.current, ...(cg.pids.limit ? { limit: cg.pids.limit } : {}) },
    blkio_stats: {
      ...emptyBlkio(),
      io_service_bytes_recursive: cg.blkio.serviceBytes,
      io_serviced_recursive: cg.blkio.serviced,
    },
    cpu_stats,
    precpu_stats: (prev?.cpu_stats as object | undefined) ?? emptyCpu(),
    memory_stats,
  };
  // A container on the host's network has no endpoint of its own to report.
  if (ownNetns(pid)) {
    const nets = readNetDev(pid);
    if (nets && Object.keys(nets).length) out.networks = nets;
  }
  return out;
}

function emptyBlkio(): Record<string, unknown> {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

function ownNetns(pid: number): boolean {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`) !== fs.readlinkSync('/proc/self/ns/net');
  } catch {
    return false;
  }
}
