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

/** Reports `current` of `total` under `status` for `id`, at most every half MiB or on the last byte. */
export function progressReporter(
  out: ProgressSink,
  id: string,
  status: string,
  total: number,
): (current: number) => void {
  let last = -1;
  return (current) => {
    if (current !== total && last >= 0 && current - last < 512 * 1024) return;
    last = current;
    out({ status, progressDetail: { current, total }, progress: progressText(current, total), id });
  };
}

export const shortDigest = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);
