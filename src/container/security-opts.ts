// HostConfig.SecurityOpt and the confinement a container gets from it: Docker's option syntax
// and messages (daemon/create.go parseSecurityOpt), checked at create so that a container that
// could never start is never made, and settled into a seccomp filter and no_new_privs at start.
import { InvalidParameter } from '../errors.js';
import { capabilities, validateCapabilities } from '../runtime/capabilities.js';
import { ociSeccomp, parseSeccompProfile, type OciSeccomp, type SeccompProfile } from '../runtime/seccomp.js';

export interface SecurityOptions {
  /** 'default' (the daemon's profile), 'unconfined', or a profile given by the client. */
  seccomp: 'default' | 'unconfined' | SeccompProfile;
  noNewPrivileges: boolean;
}

/** Go's strconv.ParseBool. */
function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

export function parseSecurityOpts(list: unknown): SecurityOptions {
  const out: SecurityOptions = { seccomp: 'default', noNewPrivileges: false };
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) throw new InvalidParameter('invalid SecurityOpt: expected a list of strings');
  for (const opt of list) {
    if (typeof opt !== 'string') throw new InvalidParameter(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    // A bare "disable" is the old spelling of label=disable: nothing to disable here.
    if (opt === 'disable') continue;
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw new InvalidParameter(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const i = opt.indexOf(sep);
    const key = opt.slice(0, i);
    const value = opt.slice(i + 1);
    switch (key) {
      case 'seccomp':
        out.seccomp = value === 'unconfined' ? 'unconfined' : parseSeccompProfile(value);
        break;
      case 'no-new-privileges': {
        const b = parseBool(value);
        if (b === undefined) throw new InvalidParameter(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        out.noNewPrivileges = b;
        break;
      }
      // Docker on a host without AppArmor or SELinux accepts any value and applies none. Asking
      // for less confinement is honoured trivially; asking for a profile or a label that would
      // confine more is refused, since nothing here could apply it.
      case 'apparmor':
        if (value !== 'unconfined') {
          throw new InvalidParameter(
            `invalid --security-opt ${JSON.stringify(opt)}: AppArmor is not supported by this daemon (only apparmor=unconfined is accepted)`,
          );
        }
        break;
      case 'label':
        if (value !== 'disable') {
          throw new InvalidParameter(
            `invalid --security-opt ${JSON.stringify(opt)}: SELinux labels are not supported by this daemon (only label=disable is accepted)`,
          );
        }
        break;
      default:
        throw new InvalidParameter(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return out;
}

/** Everything create refuses about confinement: unknown capabilities, bad security options. */
export function validateSecurity(hostConfig: Record<string, any>): void {
  validateCapabilities({ capAdd: hostConfig.CapAdd, capDrop: hostConfig.CapDrop });
  parseSecurityOpts(hostConfig.SecurityOpt);
}

export interface Confinement {
  capabilities: string[];
  seccomp?: OciSeccomp;
  noNewPrivileges: boolean;
}

/**
 * The confinement of one run. A privileged container and `seccomp=unconfined` get no filter,
 * as in Docker; so does every container when the daemon has no default profile (it warns).
 */
export function confinementOf(
  hostConfig: Record<string, any>,
  defaultProfile: SeccompProfile | undefined,
): Confinement {
  const privileged = !!hostConfig.Privileged;
  const caps = capabilities({ privileged, capAdd: hostConfig.CapAdd, capDrop: hostConfig.CapDrop });
  const opts = parseSecurityOpts(hostConfig.SecurityOpt);
  const profile =
    privileged || opts.seccomp === 'unconfined'
      ? undefined
      : opts.seccomp === 'default'
        ? defaultProfile
        : opts.seccomp;
  return {
    capabilities: caps,
    noNewPrivileges: opts.noNewPrivileges,
    ...(profile ? { seccomp: ociSeccomp(profile, { capabilities: caps }) } : {}),
  };
}
