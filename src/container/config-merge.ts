// Docker's create-time merge of the image's run config into the container's Config
// (daemon/commit.go merge): what inspect shows as Config is the merged result.
import type { ImageRunConfig } from '../image/types.js';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../runtime/oci-spec.js';
import { mergeHealthcheck } from './health-config.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const envKey = (e: string) => {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
};

export function mergeImageConfig(config: Record<string, any>, image: ImageRunConfig | undefined): Record<string, any> {
  const out: Record<string, any> = { ...config };
  const img = image ?? {};
  if (!out.User && img.User) out.User = img.User;
  if (!out.WorkingDir && img.WorkingDir) out.WorkingDir = img.WorkingDir;
  if (!out.StopSignal && img.StopSignal) out.StopSignal = img.StopSignal;
  const health = mergeHealthcheck(out.Healthcheck, img.Healthcheck as never);
  if (health) out.Healthcheck = health;
  if (!out.OnBuild?.length && img.OnBuild?.length) out.OnBuild = img.OnBuild;
  // The user's variables first, then the image's that the user did not set (daemon/commit.go merge).
  const env = [...((config.Env as string[] | null) ?? [])];
  for (const e of img.Env ?? []) if (!env.some((x) => envKey(x) === envKey(e))) env.push(e);
  out.Env = env.length ? env : (config.Env ?? null);
  const hasEntrypoint = Array.isArray(config.Entrypoint) && config.Entrypoint.length > 0;
  const hasCmd = Array.isArray(config.Cmd) && config.Cmd.length > 0;
  if (!hasEntrypoint) {
    out.Entrypoint = img.Entrypoint ?? null;
    if (!hasCmd) out.Cmd = img.Cmd ?? null;
  } else if (!hasCmd) {
    out.Cmd = null;
  }
  // [""] (`--entrypoint ""`) asks for no entrypoint at all: the image's was not taken either.
  if (hasEntrypoint && config.Entrypoint.length === 1 && config.Entrypoint[0] === '') out.Entrypoint = null;
  if (img.ExposedPorts) out.ExposedPorts = { ...img.ExposedPorts, ...(config.ExposedPorts ?? {}) };
  if (img.Volumes) out.Volumes = { ...img.Volumes, ...(config.Volumes ?? {}) };
  out.Labels = { ...(img.Labels ?? {}), ...(config.Labels ?? {}) };
  return out;
}

/** The process environment: Config.Env with PATH defaulted and HOSTNAME set, as Docker's createSpec. */
export function processEnv(config: Record<string, any>, hostname: string, tty: boolean): string[] {
  const env: string[] = [DEFAULT_PATH, `HOSTNAME=${hostname}`];
  const given = (config.Env as string[] | null) ?? [];
  if (tty) env.push('TERM=xterm');
  for (const e of given) {
    const k = envKey(e);
    const i = env.findIndex((x) => envKey(x) === k);
    if (i >= 0) env[i] = e;
    else env.push(e);
  }
  return env;
}

/** Entrypoint + Cmd; Docker refuses a container with neither. */
export function commandOf(config: Record<string, any>): string[] {
  return [...((config.Entrypoint as string[] | null) ?? []), ...((config.Cmd as string[] | null) ?? [])];
}

/** The defaults dockerd writes into a stored HostConfig (what inspect shows back). */
export function fillHostConfigDefaults(hc: Record<string, any>): Record<string, any> {
  const out = { ...hc };
  if (!out.LogConfig?.Type) out.LogConfig = { Type: 'json-file', Config: out.LogConfig?.Config ?? {} };
  out.NetworkMode ||= 'default';
  // dockerd's default IPC mode, privileged or not (an API < 1.40 client asks for "shareable" itself).
  out.IpcMode ||= 'private';
  out.CgroupnsMode ||= 'host';
  if (!out.ShmSize) out.ShmSize = 67108864;
  out.Runtime ||= 'runc';
  out.KernelMemory ??= 0;
  out.KernelMemoryTCP ??= 0;
  if (out.MemorySwappiness === -1) out.MemorySwappiness = null;
  if (typeof out.PidsLimit === 'number' && out.PidsLimit <= 0) out.PidsLimit = null;
  if (!hc.Privileged) {
    out.MaskedPaths ??= [...DEFAULT_MASKED_PATHS];
    out.ReadonlyPaths ??= [...DEFAULT_READONLY_PATHS];
  }
  return out;
}
