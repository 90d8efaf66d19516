// docker logs: the driver's entries filtered by stream, since/until and tail, then (with follow)
// live entries until the container stops or the client goes away.
import type { Ctx } from './context.js';
import { containerDir, liveOf } from './context.js';
import { formatNanos, type LogEntry } from './log-entry.js';
import { logTargetOf } from './log-target.js';
import type { ContainerRecord } from './types.js';
import { NotImplemented } from '../errors.js';
import { logsReadable } from './log-config.js';

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  follow: boolean;
  /** Number of last lines, or undefined for all. */
  tail?: number;
  /** Unix nanoseconds. */
  since?: bigint;
  until?: bigint;
  timestamps: boolean;
}

/** Refuses `docker logs` for a container whose driver keeps nothing (call before answering 200). */
export function checkLogsReadable(rec: ContainerRecord): void {
  if (!logsReadable(rec.hostConfig.LogConfig))
    throw new NotImplemented('configured logging driver does not support reading');
}

/** Docker's since/until values: Unix seconds with optional fraction. */
export function parseLogTime(v: string | null): bigint | undefined {
  if (!v || v === '0') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (!m) return undefined;
  return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}

export async function streamLogs(
  ctx: Ctx,
  rec: ContainerRecord,
  opts: LogOptions,
  write: (stream: 'stdout' | 'stderr', data: Buffer) => void,
  closed: Promise<void>,
): Promise<void> {
  const live = liveOf(ctx, rec.id);
  live.log.use(logTargetOf(containerDir(ctx, rec.id), rec.id, rec.hostConfig.LogConfig?.Type));
  const wanted = (e: LogEntry) =>
    ((e.stream === 'stdout' && opts.stdout) || (e.stream === 'stderr' && opts.stderr)) &&
    (opts.since === undefined || e.nanos > opts.since) &&
    (opts.until === undefined || e.nanos <= opts.until);
  const send = (e: LogEntry) => {
    if (!wanted(e)) return;
    write(e.stream, opts.timestamps ? Buffer.concat([Buffer.from(formatNanos(e.nanos) + ' '), e.log]) : e.log);
  };
  const following = opts.follow && rec.state.Running;
  const queued: LogEntry[] = [];
  let replaying = true;
  const onEntry = (e: LogEntry) => {
    if (replaying) queued.push(e);
    else send(e);
  };
  // Subscribe, then read the files in the same tick: writes (and rotations) happen on this
  // thread, so every entry is either on disk now or queued, never both or neither.
  if (following) live.log.on('entry', onEntry);
  let entries = live.log.readAll().filter(wanted);
  if (opts.tail !== undefined && opts.tail >= 0) entries = opts.tail === 0 ? [] : entries.slice(-opts.tail);
  for (const e of entries) send(e);
  if (!following) return;
  replaying = false;
  for (const e of queued.splice(0)) send(e);
  const stopped = new Promise<void>((r) => live.exitWaiters.push(() => r()));
  await Promise.race([stopped, closed]);
  live.log.off('entry', onEntry);
}
