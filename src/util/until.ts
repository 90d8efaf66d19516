// Docker's `until` filter value (moby's timetypes.GetTimestamp), one grammar for every prune
// and list: a Go duration back from now ("24h", "1h30m", "1.5s"), Unix seconds with an
// optional fraction, or an RFC 3339 time / date.
import { InvalidParameter } from '../errors.js';

const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
const GO_DURATION = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;

/** Milliseconds of a Go duration string, or undefined when it is not one. */
export function parseGoDuration(v: string): number | undefined {
  if (!GO_DURATION.test(v)) return undefined;
  const sign = v.startsWith('-') ? -1 : 1;
  let ms = 0;
  for (const m of v.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ms += Number(m[1]) * GO_UNITS[m[2]!]!;
  return sign * ms;
}

/** The instant (ms since the epoch) that `v` names, relative to `now` for durations. */
export function parseUntil(v: string, now = Date.now()): number {
  const d = v !== '0' ? parseGoDuration(v) : undefined;
  if (d !== undefined) return now - d;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (!v.includes('-')) throw new InvalidParameter(`failed to parse value as time or duration: "${v}"`);
  // Go's time.Parse names the part it could not read; the value is what users need to see.
  if (Number.isNaN(t)) throw new InvalidParameter(`parsing time "${v}": not an RFC 3339 time or date`);
  return t;
}
