// HEALTHCHECK as a commit change: `NONE`, or `[--interval=… --timeout=… --start-period=…
// --retries=…] CMD …`, giving Docker's Healthcheck object (durations in nanoseconds).
import { InvalidParameter } from '../errors.js';

export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds. */
export function parseGoDuration(s: string): number {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (s === '0') return 0;
  if (!m) throw new InvalidParameter(`time: invalid duration ${JSON.stringify(s)}`);
  let total = 0;
  for (const part of s.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * UNITS[part[2]!]!;
  }
  return Math.round(m[1] === '-' ? -total : total);
}

const FLAGS = new Set(['interval', 'timeout', 'start-period', 'retries']);

export function parseHealthcheck(rest: string, parseJsonForm: (s: string) => string[] | undefined): HealthConfig {
  const flags = new Map<string, string>();
  let args = rest;
  for (;;) {
    const m = /^--([^=\s]+)(?:=(\S*))?\s*/.exec(args);
    if (!m) break;
    if (!FLAGS.has(m[1]!)) throw new InvalidParameter(`Unknown flag: ${m[1]}`);
    flags.set(m[1]!, m[2] ?? '');
    args = args.slice(m[0].length);
  }
  if (args === '') throw new InvalidParameter('HEALTHCHECK requires at least one argument');
  const typ = args.split(/\s+/)[0]!.toUpperCase();
  const cmdRest = args.slice(typ.length).trim();
  if (typ === 'NONE') {
    if (cmdRest !== '') throw new InvalidParameter('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (typ !== 'CMD') throw new InvalidParameter(`Unknown type ${JSON.stringify(typ)} in HEALTHCHECK (try CMD)`);
  const json = parseJsonForm(cmdRest);
  const hc: HealthConfig = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', cmdRest] };
  const duration = (name: string, key: 'Interval' | 'Timeout' | 'StartPeriod') => {
    const v = flags.get(name);
    if (v === undefined || v === '') return;
    const d = parseGoDuration(v);
    if (d !== 0 && d < 1e6) throw new InvalidParameter(`Interval ${JSON.stringify(name)} cannot be less than 1ms`);
    if (d !== 0) hc[key] = d;
  };
  duration('interval', 'Interval');
  duration('timeout', 'Timeout');
  duration('start-period', 'StartPeriod');
  const retries = flags.get('retries');
  if (retries !== undefined && retries !== '') {
    const n = Number(retries);
    if (!Number.isInteger(n))
      throw new InvalidParameter(`strconv.ParseInt: parsing ${JSON.stringify(retries)}: invalid syntax`);
    if (n < 0) throw new InvalidParameter('--retries cannot be negative');
    if (n !== 0) hc.Retries = n;
  }
  return hc;
}
