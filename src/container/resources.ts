// HostConfig's resource limits, ulimits and sysctls in OCI form, as Docker's oci_linux.go
// translates them (only what the user set; zero means unlimited).
import type { SpecInput } from '../runtime/oci-spec.js';

export function ociResources(hc: Record<string, any>): Pick<SpecInput, 'resources' | 'rlimits' | 'sysctl'> {
  const resources: Record<string, unknown> = {};
  const memory: Record<string, number> = {};
  if (hc.Memory > 0) memory.limit = hc.Memory;
  if (hc.MemoryReservation > 0) memory.reservation = hc.MemoryReservation;
  if (hc.MemorySwap !== undefined && hc.MemorySwap !== 0 && hc.Memory > 0) memory.swap = hc.MemorySwap;
  if (Object.keys(memory).length) resources.memory = memory;
  const cpu: Record<string, unknown> = {};
  if (hc.CpuShares > 0) cpu.shares = hc.CpuShares;
  if (hc.NanoCpus > 0) {
    cpu.period = 100000;
    cpu.quota = Math.floor((hc.NanoCpus * 100000) / 1e9);
  }
  if (hc.CpuQuota > 0) cpu.quota = hc.CpuQuota;
  if (hc.CpuPeriod > 0) cpu.period = hc.CpuPeriod;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length) resources.cpu = cpu;
  if (hc.PidsLimit > 0) resources.pids = { limit: hc.PidsLimit };
  if (hc.BlkioWeight > 0) resources.blockIO = { weight: hc.BlkioWeight };
  const rlimits = ((hc.Ulimits ?? []) as { Name: string; Hard: number; Soft: number }[]).map((u) => ({
    type: `RLIMIT_${u.Name.toUpperCase()}`,
    hard: u.Hard,
    soft: u.Soft,
  }));
  return { resources, rlimits, sysctl: hc.Sysctls ?? undefined };
}
