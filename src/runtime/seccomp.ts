// Seccomp profiles in Docker's format (the file behind `--security-opt seccomp=FILE` and the
// daemon's default) turned into the OCI `linux.seccomp` section runc loads. Docker's format is
// conditional: a rule may apply only on some architectures, only when the container holds (or
// lacks) some capabilities, or only from some kernel version. Those conditions are settled here,
// per container, so the OCI section runc gets is a flat list.
import os from 'node:os';
import { InvalidParameter } from '../errors.js';

interface Conditions {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

export interface SeccompRule {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: Conditions;
  excludes?: Conditions;
}

/** A profile in Docker's format (moby profiles/seccomp). */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] | null }[] | null;
  syscalls?: SeccompRule[] | null;
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  syscalls: { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }[];
}

export interface SeccompTarget {
  /** The container's bounding capabilities: rules are chosen by what it holds. */
  capabilities: string[];
  /** Node's os.arch() (default: this machine's). */
  arch?: string;
  /** os.release() (default: the running kernel). */
  kernel?: string;
}

/** Node's arch → Go's GOARCH, the names profiles use in includes/excludes. */
const GOARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips: 'mips',
  mipsel: 'mipsle',
  loong64: 'loong64',
};
/** GOARCH → libseccomp's native architecture token, the key of archMap. */
const SCMP_ARCH: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64',
  '386': 'SCMP_ARCH_X86',
  arm64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  s390x: 'SCMP_ARCH_S390X',
  riscv64: 'SCMP_ARCH_RISCV64',
  mips: 'SCMP_ARCH_MIPS',
  mipsle: 'SCMP_ARCH_MIPSEL',
  loong64: 'SCMP_ARCH_LOONGARCH64',
};

/**
 * Parses a profile as Docker reads it; bad JSON or a wrong shape is refused with Docker's
 * "Decoding seccomp profile failed" so that create fails, not a later start.
 */
export function parseSeccompProfile(text: string): SeccompProfile {
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch (err) {
    throw new InvalidParameter(`Decoding seccomp profile failed: ${(err as Error).message}`);
  }
  const fail = (why: string): never => {
    throw new InvalidParameter(`Decoding seccomp profile failed: ${why}`);
  };
  if (typeof p !== 'object' || p === null || Array.isArray(p)) fail('the profile must be a JSON object');
  const prof = p as SeccompProfile;
  if (typeof prof.defaultAction !== 'string' || !prof.defaultAction.startsWith('SCMP_ACT_'))
    fail(`invalid defaultAction ${JSON.stringify(prof.defaultAction)}`);
  if (prof.architectures?.length && prof.archMap?.length)
    fail(
      "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
    );
  if (prof.syscalls !== undefined && prof.syscalls !== null && !Array.isArray(prof.syscalls))
    fail('syscalls must be a list');
  for (const r of prof.syscalls ?? []) {
    if (typeof r !== 'object' || r === null) fail('each syscall rule must be an object');
    if (r.name && r.names?.length)
      fail("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
    if (typeof r.action !== 'string' || !r.action.startsWith('SCMP_ACT_'))
      fail(`invalid action ${JSON.stringify(r.action)}`);
    const names = r.names ?? (r.name ? [r.name] : []);
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) fail('syscall names must be strings');
  }
  return prof;
}

/** "6.18.44-foo" ≥ "4.8"? Compares major.minor as Docker does. */
export function kernelAtLeast(release: string, min: string): boolean {
  const parse = (s: string) => (/^(\d+)\.(\d+)/.exec(s) ?? [0, 0, 0]).slice(1).map(Number) as [number, number];
  const [a, b] = parse(release);
  const [c, d] = parse(min);
  return a > c || (a === c && b >= d);
}

/** Settles the profile's conditions for one container on this machine. */
export function ociSeccomp(profile: SeccompProfile, target: SeccompTarget): OciSeccomp {
  const goarch = GOARCH[target.arch ?? os.arch()] ?? target.arch ?? os.arch();
  const kernel = target.kernel ?? os.release();
  const caps = new Set(target.capabilities);
  const out: OciSeccomp = { defaultAction: profile.defaultAction, syscalls: [] };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.architectures?.length) out.architectures = [...profile.architectures];
  const native = SCMP_ARCH[goarch];
  const entry = profile.archMap?.find((a) => a.architecture === native);
  if (entry) out.architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];

  for (const rule of profile.syscalls ?? []) {
    const ex = rule.excludes ?? {};
    const inc = rule.includes ?? {};
    if (ex.arches?.includes(goarch)) continue;
    if (ex.caps?.some((c) => caps.has(c))) continue;
    if (ex.minKernel && kernelAtLeast(kernel, ex.minKernel)) continue;
    if (inc.arches?.length && !inc.arches.includes(goarch)) continue;
    if (inc.caps?.length && !inc.caps.every((c) => caps.has(c))) continue;
    if (inc.minKernel && !kernelAtLeast(kernel, inc.minKernel)) continue;
    const names = rule.names?.length ? rule.names : rule.name ? [rule.name] : [];
    if (names.length === 0) continue;
    out.syscalls.push({
      names: [...names],
      action: rule.action,
      ...(rule.errnoRet !== undefined ? { errnoRet: rule.errnoRet } : {}),
      ...(rule.args?.length
        ? { args: rule.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op })) }
        : {}),
    });
  }
  return out;
}
