// The run config a build carries from step to step, in the field order of Docker's
// container.Config (an image ID is the hash of the config bytes, so the layout is kept stable),
// and the legacy builder's cache comparison of two such configs.
import type { ImageRunConfig } from '../image/types.js';

export interface RunConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts?: Record<string, object>;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[] | null;
  Cmd: string[] | null;
  Healthcheck?: Record<string, unknown>;
  ArgsEscaped?: boolean;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: string[] | null;
  Labels: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[];
}

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A fresh config in Docker's field order, from an image's config (or nothing, for scratch). */
export function toRunConfig(c: ImageRunConfig | undefined, image: string): RunConfig {
  const src = (c ?? {}) as Record<string, any>;
  const out: RunConfig = {
    Hostname: '',
    Domainname: '',
    User: src.User ?? '',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    ExposedPorts: src.ExposedPorts ? { ...src.ExposedPorts } : undefined,
    Tty: false,
    OpenStdin: false,
    StdinOnce: false,
    Env: src.Env ? [...src.Env] : null,
    Cmd: src.Cmd ? [...src.Cmd] : null,
    Healthcheck: src.Healthcheck ? { ...src.Healthcheck } : undefined,
    ArgsEscaped: src.ArgsEscaped || undefined,
    Image: image,
    Volumes: src.Volumes ? { ...src.Volumes } : null,
    WorkingDir: src.WorkingDir ?? '',
    Entrypoint: src.Entrypoint ? [...src.Entrypoint] : null,
    OnBuild: src.OnBuild ? [...src.OnBuild] : null,
    Labels: src.Labels ? { ...src.Labels } : null,
    StopSignal: src.StopSignal || undefined,
    Shell: src.Shell ? [...src.Shell] : undefined,
  };
  return out;
}

export function copyRunConfig(c: RunConfig, changes: Partial<RunConfig> = {}): RunConfig {
  const base = toRunConfig(c as unknown as ImageRunConfig, c.Image);
  base.Hostname = c.Hostname;
  return toOrdered({ ...base, ...changes });
}

/** Re-creates the object so keys come out in Docker's order and undefined optional keys vanish. */
function toOrdered(c: RunConfig): RunConfig {
  const keys: (keyof RunConfig)[] = [
    'Hostname',
    'Domainname',
    'User',
    'AttachStdin',
    'AttachStdout',
    'AttachStderr',
    'ExposedPorts',
    'Tty',
    'OpenStdin',
    'StdinOnce',
    'Env',
    'Cmd',
    'Healthcheck',
    'ArgsEscaped',
    'Image',
    'Volumes',
    'WorkingDir',
    'Entrypoint',
    'OnBuild',
    'Labels',
    'StopSignal',
    'Shell',
  ];
  const out: Record<string, unknown> = {};
  for (const k of keys) if (c[k] !== undefined) out[k] = c[k];
  return out as unknown as RunConfig;
}

export function ordered(c: RunConfig): RunConfig {
  return toOrdered(c);
}

const sameList = (a: unknown, b: unknown) => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
const sameMap = (a: unknown, b: unknown) => {
  const ka = Object.keys((a ?? {}) as object).sort();
  const kb = Object.keys((b ?? {}) as object).sort();
  if (!sameList(ka, kb)) return false;
  return ka.every((k) => JSON.stringify((a as any)[k]) === JSON.stringify((b as any)[k]));
};

/**
 * Docker's cache comparison (image/cache/compare.go): user, command, environment, labels,
 * ports, entrypoint and volumes; plus working dir, shell, healthcheck, stop signal and
 * triggers, which Docker only covers through the command comment.
 */
export function sameConfig(a: Record<string, any> | undefined, b: RunConfig): boolean {
  if (!a) return false;
  if (a.OpenStdin || b.OpenStdin || a.Tty !== b.Tty) return false;
  if ((a.User ?? '') !== b.User) return false;
  if ((a.WorkingDir ?? '') !== b.WorkingDir) return false;
  if (!sameList(a.Cmd, b.Cmd) || !sameList(a.Env, b.Env) || !sameList(a.Entrypoint, b.Entrypoint)) return false;
  if (!sameList(a.Shell, b.Shell) || !sameList(a.OnBuild, b.OnBuild)) return false;
  if ((a.StopSignal ?? '') !== (b.StopSignal ?? '')) return false;
  if (!sameMap(a.Labels, b.Labels) || !sameMap(a.ExposedPorts, b.ExposedPorts) || !sameMap(a.Volumes, b.Volumes))
    return false;
  return JSON.stringify(a.Healthcheck ?? null) === JSON.stringify(b.Healthcheck ?? null);
}

/** Go's %q of a string slice: ["a" "b"]. */
export function goQuoteSlice(s: string[]): string {
  return `[${s.map((x) => JSON.stringify(x)).join(' ')}]`;
}
