// --init: a minimal init (tini, which Docker ships as docker-init) runs as the container's
// PID 1, reaps zombies and forwards signals to the command. Like Docker, the binary is bound
// read-only at /sbin/docker-init and put in front of the process args; inspect still shows the
// user's Path and Args.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidParameter } from '../errors.js';
import type { OciMount } from '../runtime/oci-spec.js';

export const INIT_DESTINATION = '/sbin/docker-init';

export interface InitConfig {
  /** daemon.json `init-path`: the binary to use; otherwise docker-init (or tini-static) from PATH. */
  path?: string;
  /** daemon.json `init`: run an init in containers that do not say (HostConfig.Init null). */
  default?: boolean;
}

/** The init binary on the host. The container cannot load libraries from the host, so a static build is preferred. */
export function findInitBinary(cfg: InitConfig | undefined): string {
  if (cfg?.path) {
    if (!fs.existsSync(cfg.path)) throw new InvalidParameter(`stat ${cfg.path}: no such file or directory`);
    return cfg.path;
  }
  for (const name of ['docker-init', 'tini-static']) {
    for (const dir of (process.env.PATH || '/usr/local/bin:/usr/bin:/bin').split(':')) {
      const p = path.join(dir || '.', name);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        return p;
      } catch {
        /* next */
      }
    }
  }
  throw new InvalidParameter('exec: "docker-init": executable file not found in $PATH');
}

/** Whether this container runs under an init: its own choice, else the daemon's default. */
export function wantsInit(hostConfig: Record<string, any>, cfg: InitConfig | undefined): boolean {
  return typeof hostConfig.Init === 'boolean' ? hostConfig.Init : !!cfg?.default;
}

/** The process args and the extra mount for a container started with an init. */
export function withInit(args: string[], binary: string): { args: string[]; mount: OciMount } {
  return {
    args: [INIT_DESTINATION, '--', ...args],
    mount: { destination: INIT_DESTINATION, type: 'bind', source: binary, options: ['rbind', 'ro', 'rprivate'] },
  };
}
