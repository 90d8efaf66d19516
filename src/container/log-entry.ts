// One logged piece of a container's output, and the contract of a log driver's on-disk format:
// how an entry becomes bytes and how a file's bytes become entries again.

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** The output as the process wrote it: a line with its "\n", or a piece of a longer one. */
  log: Buffer;
  /** Unix nanoseconds, for since/until and timestamps. */
  nanos: bigint;
  /** Set on the pieces of a line longer than the copy buffer (and on a last line without "\n"). */
  partial?: { id: string; ordinal: number; last: boolean };
}

export interface LogFormat {
  encode(entry: LogEntry): Buffer;
  /** Every whole entry in `buf`; a torn entry at the end (a crash mid-write) is left out. */
  decode(buf: Buffer): LogEntry[];
}

/** RFC 3339 with nanoseconds, always nine digits (json-file's `time`, `docker logs -t`). */
export function formatNanos(nanos: bigint): string {
  const ms = Number(nanos / 1_000_000n);
  const frac = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(ms).toISOString().slice(0, 19) + '.' + frac + 'Z';
}

export function parseTimeNanos(time: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return BigInt(Date.parse(time)) * 1_000_000n;
  const secs = BigInt(Date.parse(m[1]! + m[3]!)) / 1000n;
  return secs * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9) || '0');
}
