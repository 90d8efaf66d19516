// Healthcheck configuration and state as Docker defines them: the create-time checks, the
// merge with the image's HEALTHCHECK, the probe command, and how ps shows and filters health.
// The monitor that runs probes is health.ts.
import { InvalidParameter } from '../errors.js';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: HealthStatus;
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface HealthConfig {
  Test?: string[] | null;
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export const MS = 1_000_000;
export const DEFAULT_INTERVAL = 30_000 * MS;
export const DEFAULT_TIMEOUT = 30_000 * MS;
export const DEFAULT_START_INTERVAL = 5_000 * MS;
export const DEFAULT_RETRIES = 3;
export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT = 4096;

/** Docker's create-time checks (verifyContainerSettings): a zero duration means "the default". */
export function validateHealthcheck(hc: HealthConfig | null | undefined): void {
  if (!hc) return;
  const tooShort = (v: number | undefined) => v !== undefined && v !== null && v !== 0 && v < MS;
  if (tooShort(hc.Interval)) throw new InvalidParameter('Interval in Healthcheck cannot be less than 1ms');
  if (tooShort(hc.Timeout)) throw new InvalidParameter('Timeout in Healthcheck cannot be less than 1ms');
  if ((hc.Retries ?? 0) < 0) throw new InvalidParameter('Retries in Healthcheck cannot be negative');
  if (tooShort(hc.StartPeriod)) throw new InvalidParameter('StartPeriod in Healthcheck cannot be less than 1ms');
  if (tooShort(hc.StartInterval)) throw new InvalidParameter('StartInterval in Healthcheck cannot be less than 1ms');
}

/** The user's healthcheck over the image's, field by field (daemon/commit.go merge). */
export function mergeHealthcheck(
  user: HealthConfig | null | undefined,
  image: HealthConfig | null | undefined,
): HealthConfig | null | undefined {
  if (!user) return image ?? user;
  if (!image) return user;
  const out = { ...user };
  if (!out.Test?.length) out.Test = image.Test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const)
    if (!out[k]) out[k] = image[k];
  return out;
}

/** The command a probe runs, or undefined when the container has no (or a disabled) healthcheck. */
export function probeCommand(hc: HealthConfig | null | undefined, shell?: string[] | null): string[] | undefined {
  const test = hc?.Test ?? [];
  if (test.length === 0 || test[0] === 'NONE') return undefined;
  if (test[0] === 'CMD') return test.length > 1 ? test.slice(1) : undefined;
  if (test[0] === 'CMD-SHELL') return [...(shell?.length ? shell : ['/bin/sh', '-c']), test.slice(1).join(' ')];
  return undefined;
}

/** The STATUS suffix of `docker ps`. */
export function healthText(h: HealthState | undefined): string {
  if (!h) return '';
  return h.Status === 'starting' ? 'health: starting' : h.Status;
}

/** The `health` filter's value for a container ("none" without a healthcheck). */
export function healthFilterValue(state: { Health?: HealthState }): string {
  return state.Health?.Status ?? 'none';
}

/** Go's time.Duration String() for whole milliseconds and above, as the timeout message shows it. */
export function goDuration(ns: number): string {
  if (ns % 1e9 !== 0 || ns < 1e9) return ns % MS === 0 ? `${ns / MS}ms` : `${ns / 1e9}s`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}

export interface HealthHandle {
  stop(): void;
}
