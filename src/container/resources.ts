// HostConfig's resource limits, ulimits and sysctls in OCI form, as Docker's oci_linux.go
// translates them (only what the user set; zero means unlimited).
import type { SpecInput } from '../runtime/oci-spec.js';

export function ociResources(hc: Record<string, any>): Pick<SpecInput, 'resources' | 'rlimits'> {
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
  return { resources, rlimits };
}

/**
 * The sysctls runc sets in the container's namespaces, as dockerd 20.10 builds them: the NIS
 * domain name (OCI has no field for setdomainname(2), and the sysctl has the same effect), then,
 * in a network namespace of the container's own, ping and ports below 1024 without CAP_NET_RAW or
 * CAP_NET_BIND_SERVICE, then the user's, which win. Joining another container's namespace or the
 * host's changes nothing there: the namespace is not this container's to tune.
 */
export function ociSysctls(config: Record<string, any>, hc: Record<string, any>): Record<string, string> {
  const sysctl: Record<string, string> = {};
  if (config.Domainname) sysctl['kernel.domainname'] = String(config.Domainname);
  const netMode = String(hc.NetworkMode ?? '');
  if (netMode !== 'host' && !netMode.startsWith('container:')) {
    sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  return { ...sysctl, ...((hc.Sysctls as Record<string, string> | null) ?? {}) };
}
