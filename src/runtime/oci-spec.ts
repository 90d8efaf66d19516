// The OCI runtime spec (config.json) Strata writes into each bundle, after Docker 20.10's
// defaults (oci/defaults.go, daemon/oci_linux.go): default capabilities, masked and read-only
// /proc and /sys paths, the /proc /dev /sys mounts, the container's /etc files, then the
// user's mounts sorted so that a parent directory is mounted before what sits inside it.
import { capabilities, DEFAULT_CAPABILITIES } from './capabilities.js';
import { hostDevices } from './devices.js';
import type { OciSeccomp } from './seccomp.js';

export { capabilities, DEFAULT_CAPABILITIES };

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface SpecInput {
  id: string;
  rootfs: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  cwd: string;
  user: OciUser;
  tty: boolean;
  hostname: string;
  /** A private network namespace (--network none); otherwise the host's. */
  privateNetwork: boolean;
  /** /etc/hosts, /etc/hostname, /etc/resolv.conf on the host. */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** User mounts (binds, volumes, tmpfs) already translated to OCI form. */
  mounts: OciMount[];
  privileged?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  shmSizeBytes?: number;
  /** The IPC namespace: the host's, or one to join by path; a new one when absent. */
  ipcNamespace?: { host: true } | { path: string };
  /** The PID namespace: the host's, or one to join by path; a new one when absent. */
  pidNamespace?: { host: true } | { path: string };
  /** The host's UTS namespace (--uts host): no hostname is set, the host's shows. */
  hostUts?: boolean;
  /** The terminal's size when the process starts (runc sizes the console before the exec). */
  consoleSize?: { height: number; width: number };
  /** /dev/shm: absent, the private tmpfs of shmSizeBytes; null, nothing there (--ipc none); else this mount. */
  shm?: OciMount | null;
  /** OCI linux.resources beyond devices (memory, cpu, pids), already in OCI form. */
  resources?: Record<string, unknown>;
  rlimits?: { type: string; hard: number; soft: number }[];
  sysctl?: Record<string, string>;
  /** The seccomp filter, already settled for this container; none when unconfined or privileged. */
  seccomp?: OciSeccomp;
  noNewPrivileges?: boolean;
  /** HostConfig.MaskedPaths / ReadonlyPaths as stored at create; Docker's defaults when absent. */
  maskedPaths?: string[];
  readonlyPaths?: string[];
}

/** Docker's masked paths, plus the powercap tree that newer Docker masks too (energy counters leak timing). */
export const DEFAULT_MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export function buildSpec(input: SpecInput): Record<string, unknown> {
  const caps = capabilities(input);
  const shmSize = input.shmSizeBytes && input.shmSizeBytes > 0 ? input.shmSizeBytes : 64 * 1024 * 1024;
  const defaults: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', input.privileged ? 'rw' : 'ro'],
    },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    ...(input.shm === null
      ? []
      : [
          input.shm ?? {
            destination: '/dev/shm',
            type: 'tmpfs',
            source: 'shm',
            options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${Math.floor(shmSize / 1024)}k`],
          },
        ]),
    {
      destination: '/etc/resolv.conf',
      type: 'bind',
      source: input.etcFiles.resolvConf,
      options: ['rbind', 'rprivate'],
    },
    { destination: '/etc/hostname', type: 'bind', source: input.etcFiles.hostname, options: ['rbind', 'rprivate'] },
    { destination: '/etc/hosts', type: 'bind', source: input.etcFiles.hosts, options: ['rbind', 'rprivate'] },
  ];
  const userDests = new Set(input.mounts.map((m) => m.destination));
  const mounts = [...defaults.filter((m) => !userDests.has(m.destination)), ...sortMounts(input.mounts)];

  const namespaces: { type: string; path?: string }[] = [{ type: 'mount' }];
  const share = (type: string, ns: { host: true } | { path: string } | undefined) => {
    if (!ns) namespaces.push({ type });
    else if ('path' in ns) namespaces.push({ type, path: ns.path });
  };
  share('pid', input.pidNamespace);
  share('ipc', input.ipcNamespace);
  if (!input.hostUts) namespaces.push({ type: 'uts' });
  if (input.privateNetwork) namespaces.push({ type: 'network' });

  return {
    ociVersion: '1.0.2-dev',
    process: {
      ...buildExecProcess({ ...input, capabilities: caps, noNewPrivileges: !!input.noNewPrivileges }),
      oomScoreAdj: 0,
      ...(input.rlimits?.length ? { rlimits: input.rlimits } : {}),
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs },
    // runc refuses a hostname without a UTS namespace of the container's own.
    ...(input.hostUts ? {} : { hostname: input.hostname }),
    mounts,
    linux: {
      cgroupsPath: `/strata/${input.id}`,
      ...(input.sysctl && Object.keys(input.sysctl).length ? { sysctl: input.sysctl } : {}),
      resources: {
        ...(input.resources ?? {}),
        devices: input.privileged
          ? [{ allow: true, access: 'rwm' }]
          : [
              { allow: false, access: 'rwm' },
              { allow: true, type: 'c', access: 'm' },
              { allow: true, type: 'b', access: 'm' },
            ],
      },
      namespaces,
      // Docker gives a privileged container every device node of the host.
      ...(input.privileged ? { devices: hostDevices() } : {}),
      ...(input.seccomp ? { seccomp: input.seccomp } : {}),
      maskedPaths: input.privileged ? [] : (input.maskedPaths ?? DEFAULT_MASKED_PATHS),
      readonlyPaths: input.privileged ? [] : (input.readonlyPaths ?? DEFAULT_READONLY_PATHS),
    },
  };
}

/** Parents before children, as Docker's sortMounts (by number of path components). */
export function sortMounts(mounts: OciMount[]): OciMount[] {
  const depth = (p: string) => p.split('/').filter(Boolean).length;
  return [...mounts].sort((a, b) => depth(a.destination) - depth(b.destination));
}

/** The OCI process for `docker exec`: the container's environment plus the exec's own. */
export function buildExecProcess(input: {
  args: string[];
  env: string[];
  cwd: string;
  user: OciUser;
  tty: boolean;
  capabilities: string[];
  noNewPrivileges?: boolean;
  consoleSize?: { height: number; width: number };
}): Record<string, unknown> {
  const caps = input.capabilities;
  return {
    terminal: input.tty,
    // Without it runc sizes the console from its own terminal only once the process runs, after
    // a short-lived one may have read 0x0 (`stty size`).
    ...(input.tty && input.consoleSize ? { consoleSize: input.consoleSize } : {}),
    user: input.user,
    args: input.args,
    env: input.env,
    cwd: input.cwd,
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    noNewPrivileges: !!input.noNewPrivileges,
  };
}
