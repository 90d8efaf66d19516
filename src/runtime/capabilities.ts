// Linux capabilities as Docker 20.10 grants them: its default set, the names it knows, and
// the --cap-add/--cap-drop/--privileged arithmetic (moby oci/caps). Kept apart from the OCI
// spec so create can validate names long before a start builds a spec.
import fs from 'node:fs';
import { InvalidParameter } from '../errors.js';

/** The capabilities of a default container, in Docker's order. */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/**
 * Every capability Docker 20.10 knows, indexed by its bit number. Newer ones (CAP_PERFMON,
 * CAP_BPF, CAP_CHECKPOINT_RESTORE) are refused by name there, and so here, so that a
 * container definition means the same on both.
 */
export const KNOWN_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
];

export interface CapabilityRequest {
  privileged?: boolean;
  capAdd?: string[] | null;
  capDrop?: string[] | null;
}

/** "sys_admin" → "CAP_SYS_ADMIN"; "all" → "ALL". */
function normalize(name: string): string {
  const u = name.toUpperCase();
  return u === 'ALL' || u.startsWith('CAP_') ? u : `CAP_${u}`;
}

/** Refuses unknown names with Docker's words, at create, before anything is made. */
export function validateCapabilities(req: CapabilityRequest): void {
  for (const [field, list] of [
    ['CapAdd', req.capAdd],
    ['CapDrop', req.capDrop],
  ] as const) {
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new InvalidParameter(`invalid ${field}: expected a list of capability names`);
    for (const c of list) {
      const n = typeof c === 'string' ? normalize(c) : String(c);
      if (typeof c !== 'string' || (n !== 'ALL' && !KNOWN_CAPABILITIES.includes(n))) {
        throw new InvalidParameter(`invalid ${field}: unknown capability: ${JSON.stringify(n)}`);
      }
    }
  }
}

let bounding: bigint | undefined;

/** The daemon's own bounding set: a container can never hold a capability the daemon lacks. */
function daemonBoundingSet(): bigint {
  if (bounding === undefined) {
    try {
      const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
      bounding = m ? BigInt(`0x${m[1]}`) : ~0n;
    } catch {
      bounding = ~0n;
    }
  }
  return bounding;
}

/**
 * "All capabilities" for --privileged and --cap-add ALL. Docker asks for every known one and
 * fails to start where the daemon itself lacks some (a sandbox without CAP_SYS_RESOURCE);
 * here "all" means all that the daemon holds, so such a host can still run privileged containers.
 */
export function allCapabilities(): string[] {
  const bnd = daemonBoundingSet();
  return KNOWN_CAPABILITIES.filter((_, bit) => (bnd >> BigInt(bit)) & 1n);
}

/** Docker's --cap-add/--cap-drop arithmetic: names with or without CAP_, "ALL" on either side. */
export function capabilities(req: CapabilityRequest): string[] {
  if (req.privileged) return allCapabilities();
  const add = (req.capAdd ?? []).map(normalize);
  const drop = (req.capDrop ?? []).map(normalize);
  if (add.length === 0 && drop.length === 0) return [...DEFAULT_CAPABILITIES];
  // Same precedence as Docker: an added ALL wins over a dropped ALL.
  if (add.includes('ALL')) return allCapabilities().filter((c) => !drop.includes(c));
  if (drop.includes('ALL')) return [...new Set(add)];
  const caps = DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  for (const c of add) if (!caps.includes(c)) caps.push(c);
  return caps;
}

/** The capability set as the kernel shows it in /proc/PID/status (CapEff: 00000000a80425fb). */
export function capabilityMask(caps: string[]): string {
  let mask = 0n;
  for (const c of caps) {
    const bit = KNOWN_CAPABILITIES.indexOf(c);
    if (bit >= 0) mask |= 1n << BigInt(bit);
  }
  return mask.toString(16).padStart(16, '0');
}
