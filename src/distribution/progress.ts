// The progress JSON messages of pull and push, as dockerd writes them (the docker CLI draws the
// bars from them): `{"status","progressDetail":{current,total},"progress":"[==>  ] 1MB/3MB","id"}`.
import { formatBytes } from '../image/format.js';

export type ProgressMessage = Record<string, unknown>;
export type ProgressSink = (msg: ProgressMessage) => void;

/** JSONProgress.String() at the daemon's width: bar, then current/total. */
export function progressText(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return formatBytes(current).padStart(8);
  const pct = Math.min(50, Math.floor(Math.floor((current / total) * 100) / 2));
  const bar = `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] `;
  const numbers =
    current > total ? formatBytes(current).padStart(8) : `${formatBytes(current).padStart(8)}/${formatBytes(total)}`;
  return bar + numbers;
}

export function statusMessage(id: string, status: string): ProgressMessage {
  return { status, progressDetail: {}, id };
}

/** The least time between two progress messages of one layer (dockerd's progress reader). */
export const PROGRESS_INTERVAL_MS = 100;

/**
 * Reports `current` of `total` under `status` for `id` as dockerd's progress reader does: a
 * message once 512 KiB (or 1% of `total`, if less) more have gone by, at most one every 100 ms,
 * and always the last byte's. On a fast registry the bytes of one layer pass 512 KiB every few
 * milliseconds: unthrottled, each layer sent a few hundred messages a second, every one
 * serialized and written to the client on the cores that unpack.
 */
export function progressReporter(
  out: ProgressSink,
  id: string,
  status: string,
  total: number,
  now: () => number = performance.now.bind(performance),
): (current: number) => void {
  const every = total > 0 ? Math.min(512 * 1024, Math.floor(total / 100)) : 512 * 1024;
  let lastUpdate = 0;
  let lastSent = -Infinity;
  let sentAny = false;
  return (current) => {
    const last = current === total;
    if (!last && sentAny && current - lastUpdate <= every) return;
    lastUpdate = current;
    const t = now();
    if (!last && sentAny && t - lastSent < PROGRESS_INTERVAL_MS) return;
    sentAny = true;
    lastSent = t;
    out({ status, progressDetail: { current, total }, progress: progressText(current, total), id });
  };
}

export const shortDigest = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);
