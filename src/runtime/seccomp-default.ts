// Finding the default seccomp profile. Docker compiles its profile into dockerd; Strata reads
// the same file from Debian's packaging of Docker (profiles/seccomp/default.json) so the
// allow-list follows Docker's and its security updates instead of a copy kept here.
// Podman's profile (/usr/share/containers/seccomp.json) is not used: it allows unshare, mount,
// setns, keyctl and ptrace without CAP_SYS_ADMIN, so a default container could create user
// namespaces, which Docker's refuses.
import fs from 'node:fs';
import { parseSeccompProfile, type SeccompProfile } from './seccomp.js';

/** Where the profile is looked for, in order: Debian's Docker sources, then the copy scripts/install-deps.sh extracts from them. */
export const DEFAULT_PROFILE_PATHS = [
  '/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json',
  '/usr/local/share/strata/seccomp/default.json',
];

export interface DefaultProfile {
  profile?: SeccompProfile;
  /** The file it came from. */
  path?: string;
  /** Set when no profile could be loaded: containers then run without a seccomp filter. */
  warning?: string;
}

/**
 * Loads `explicit` (the daemon's --seccomp-profile) or the first default path that exists. An
 * explicit file that cannot be read stops the daemon; a missing default only warns, so a host
 * without the file still runs containers, confined by capabilities and masked paths alone.
 */
export function loadDefaultSeccompProfile(explicit?: string): DefaultProfile {
  if (explicit) {
    let text: string;
    try {
      text = fs.readFileSync(explicit, 'utf8');
    } catch (err) {
      throw new Error(`opening seccomp profile (${explicit}) failed: ${(err as Error).message}`);
    }
    return { profile: parseSeccompProfile(text), path: explicit };
  }
  for (const p of DEFAULT_PROFILE_PATHS) {
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch {
      continue;
    }
    return { profile: parseSeccompProfile(text), path: p };
  }
  return {
    warning: `WARNING: no default seccomp profile found (looked in ${DEFAULT_PROFILE_PATHS.join(', ')}): containers run without a seccomp filter; run scripts/install-deps.sh or pass --seccomp-profile`,
  };
}
