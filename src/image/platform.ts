// Platform specifiers (`--platform linux/arm64/v8`) parsed and compared as dockerd 20.10 does
// through containerd's platforms package: each component checked, the OS and architecture
// normalised, and a lone word taken as an OS, else an architecture, else refused.
import { InvalidParameter } from '../errors.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const COMPONENT = /^[A-Za-z0-9_-]+$/;

const KNOWN_OS = new Set(
  'aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris windows zos'.split(
    ' ',
  ),
);
const KNOWN_ARCH = new Set(
  '386 amd64 amd64p32 arm armbe arm64 arm64be ppc64 ppc64le loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc riscv riscv64 s390 s390x sparc sparc64 wasm'.split(
    ' ',
  ),
);

/** This machine's architecture in Go's names (what a lone OS is completed with). */
export function hostArchitecture(): string {
  return (
    ({ x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[process.arch] ?? process.arch
  );
}

const normalizeOS = (os: string) => (os.toLowerCase() === 'macos' ? 'darwin' : os.toLowerCase());

function normalizeArch(arch: string, variant: string): [string, string] {
  const a = arch.toLowerCase();
  const v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return ['386', ''];
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return ['amd64', v];
    case 'aarch64':
    case 'arm64':
      return ['arm64', v === '8' || v === 'v8' ? '' : v];
    case 'armhf':
      return ['arm', 'v7'];
    case 'armel':
      return ['arm', 'v6'];
    case 'arm':
      if (v === '' || v === '7') return ['arm', 'v7'];
      if (v === '5' || v === '6' || v === '8') return ['arm', `v${v}`];
      return ['arm', v];
    default:
      return [a, v];
  }
}

const invalid = (msg: string) => new InvalidParameter(`${msg}: invalid argument`);
const spec = (os: string, architecture: string, variant: string): PlatformSpec =>
  variant ? { os, architecture, variant } : { os, architecture };

/** platforms.Parse, with its words; the caller skips an empty value (no platform asked). */
export function parsePlatformSpecifier(specifier: string): PlatformSpec {
  const q = JSON.stringify(specifier);
  if (specifier.includes('*')) throw invalid(`${q}: wildcards not yet supported`);
  const parts = specifier.split('/');
  for (const part of parts)
    if (!COMPONENT.test(part))
      throw invalid(
        `${JSON.stringify(part)} is an invalid component of ${q}: platform specifier component must match "^[A-Za-z0-9_-]+$"`,
      );
  if (parts.length === 1) {
    const os = normalizeOS(parts[0]!);
    if (KNOWN_OS.has(os)) return spec(os, hostArchitecture(), '');
    let [arch, variant] = normalizeArch(parts[0]!, '');
    if (arch === 'arm' && variant === 'v7') variant = '';
    if (KNOWN_ARCH.has(arch)) return spec('linux', arch, variant);
    throw invalid(`${q}: unknown operating system or architecture`);
  }
  if (parts.length === 2) {
    let [arch, variant] = normalizeArch(parts[1]!, '');
    if (arch === 'arm' && variant === 'v7') variant = '';
    return spec(normalizeOS(parts[0]!), arch, variant);
  }
  if (parts.length === 3) {
    const [arch, variant] = normalizeArch(parts[1]!, parts[2]!);
    return spec(normalizeOS(parts[0]!), arch, variant);
  }
  throw invalid(`${q}: cannot parse platform specifier`);
}

/** platforms.Format: the non-empty components joined by '/'. */
export const formatPlatform = (p: PlatformSpec): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/**
 * Whether an image of platform `image` serves a request for `want` (dockerd's
 * OnlyPlatformWithFallback): same OS and architecture, and the same variant unless the image
 * names none (image configs rarely carry one).
 */
export function platformMatches(want: PlatformSpec, image: PlatformSpec): boolean {
  const [arch, variant] = normalizeArch(image.architecture, image.variant ?? '');
  const [wantArch, wantVariant] = normalizeArch(want.architecture, want.variant ?? '');
  if (normalizeOS(image.os) !== normalizeOS(want.os) || arch !== wantArch) return false;
  return !variant || wantVariant === variant;
}
