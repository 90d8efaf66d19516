// The backup repository verbs on plain directories: back a directory up, list, restore into a
// directory, verify, apply retention. Volumes, freezing and staging live in service.ts.
import { NotFound } from '../errors.js';
import { ensureRepository, restic, type Repository } from './restic.js';

export interface Progress {
  /** Bytes processed so far and the total when known. */
  current: number;
  total?: number;
  files?: number;
  totalFiles?: number;
}

export interface BackupSummary {
  ID: string;
  ShortID: string;
  Volume: string;
  /** Bytes the backup read from the volume. */
  BytesProcessed: number;
  /** Bytes the repository grew by (after dedup and compression). */
  BytesAdded: number;
  FilesNew: number;
  FilesChanged: number;
  FilesUnmodified: number;
  DurationSeconds: number;
}

export interface BackupInfo {
  ID: string;
  ShortID: string;
  Volume: string;
  Created: string;
  Tags: string[];
  /** The snapshot's root tree, paths and origin, as restic records them. */
  Tree: string;
  Paths: string[];
  Hostname: string;
  Username: string;
}

export interface Retention {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

const VOLUME_TAG = 'volume:';

export function volumeTag(volume: string): string {
  return VOLUME_TAG + volume;
}

/** Backs up the content of `dir` (stored relative to it, so any directory restores it) as a backup of `volume`. */
export async function backupDirectory(
  repo: Repository,
  dir: string,
  volume: string,
  onProgress?: (p: Progress) => void,
  extraTags: string[] = [],
): Promise<BackupSummary & { info?: BackupInfo }> {
  await ensureRepository(repo);
  let summary: Record<string, any> | undefined;
  await restic(repo, ['backup', '--json', '--tag', [volumeTag(volume), ...extraTags].join(','), '.'], {
    cwd: dir,
    onJson: (m) => {
      if (m.message_type === 'status') {
        onProgress?.({
          current: m.bytes_done ?? 0,
          total: m.total_bytes,
          files: m.files_done,
          totalFiles: m.total_files,
        });
      } else if (m.message_type === 'summary') {
        summary = m;
      }
    },
  });
  if (!summary) throw new Error('restic backup printed no summary');
  const id: string = summary.snapshot_id;
  const info = (await listBackups(repo, volume)).find((b) => b.ID.startsWith(id));
  return {
    info,
    ID: info?.ID ?? id,
    ShortID: id.slice(0, 8),
    Volume: volume,
    BytesProcessed: summary.total_bytes_processed ?? 0,
    BytesAdded: summary.data_added ?? 0,
    FilesNew: summary.files_new ?? 0,
    FilesChanged: summary.files_changed ?? 0,
    FilesUnmodified: summary.files_unmodified ?? 0,
    DurationSeconds: summary.total_duration ?? 0,
  };
}

function infoOf(s: Record<string, any>): BackupInfo {
  const tags: string[] = s.tags ?? [];
  const vol = tags.find((t) => t.startsWith(VOLUME_TAG));
  return {
    ID: s.id,
    ShortID: s.short_id ?? String(s.id).slice(0, 8),
    Volume: vol ? vol.slice(VOLUME_TAG.length) : '',
    Created: s.time,
    Tags: tags,
    Tree: s.tree,
    Paths: s.paths ?? [],
    Hostname: s.hostname ?? '',
    Username: s.username ?? '',
  };
}

/** Backups in the repository, oldest first; only those of `volume` when given. */
export async function listBackups(repo: Repository, volume?: string): Promise<BackupInfo[]> {
  const args = ['--no-lock', 'snapshots', '--json'];
  if (volume) args.push('--tag', volumeTag(volume));
  const out = await restic(repo, args);
  const list = (JSON.parse(out || '[]') ?? []) as Record<string, any>[];
  return list.map(infoOf).sort((a, b) => {
    const d = createdNanos(a.Created) - createdNanos(b.Created);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
}

/**
 * RFC 3339 time as nanoseconds since the epoch. restic writes nanoseconds with trailing zeros
 * trimmed, Strata's own snapshots milliseconds: comparing the strings would misorder them.
 */
export function createdNanos(time: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return BigInt(Date.parse(time) || 0) * 1_000_000n;
  const whole = BigInt(Date.parse(m[1]! + m[3]!)) * 1_000_000n;
  return whole + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9) || '0');
}

/** Resolves `latest` (of `volume`) or an ID prefix to one backup. */
export async function findBackup(repo: Repository, ref: string, volume: string): Promise<BackupInfo> {
  if (ref === 'latest') {
    const mine = await listBackups(repo, volume);
    const last = mine[mine.length - 1];
    if (!last) throw new NotFound(`no backup of volume ${volume} in ${repo.location}`);
    return last;
  }
  if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new NotFound(`no such backup: ${ref}`);
  const matches = (await listBackups(repo)).filter((b) => b.ID.startsWith(ref));
  if (matches.length !== 1)
    throw new NotFound(matches.length ? `backup ID ${ref} is ambiguous` : `no such backup: ${ref}`);
  return matches[0]!;
}

/** Restores backup `id` into `target` (an empty directory); restic checks every blob it reads. */
export async function restoreInto(repo: Repository, id: string, target: string): Promise<void> {
  await restic(repo, ['restore', id, '--target', target]);
}

/** Bytes a restore of backup `id` writes (for progress). */
export async function restoreSize(repo: Repository, id: string): Promise<number> {
  const out = await restic(repo, ['--no-lock', 'stats', '--json', '--mode', 'restore-size', id]);
  return (JSON.parse(out) as { total_size?: number }).total_size ?? 0;
}

/** Re-reads every pack and checks every blob (`restic check --read-data`). */
export async function verifyRepository(repo: Repository): Promise<{ ok: true; output: string }> {
  const output = await restic(repo, ['check', '--read-data']);
  return { ok: true, output };
}

/** Applies retention per volume and deletes the data no kept backup references. */
export async function applyRetention(
  repo: Repository,
  keep: Retention,
): Promise<{ removed: string[]; kept: string[] }> {
  const args = ['forget', '--json', '--prune', '--group-by', 'tags'];
  if (keep.keepLast) args.push('--keep-last', String(keep.keepLast));
  if (keep.keepDaily) args.push('--keep-daily', String(keep.keepDaily));
  if (keep.keepWeekly) args.push('--keep-weekly', String(keep.keepWeekly));
  if (keep.keepMonthly) args.push('--keep-monthly', String(keep.keepMonthly));
  if (args.length === 5) return { removed: [], kept: [] };
  const out = await restic(repo, args);
  const removed: string[] = [];
  const kept: string[] = [];
  const start = out.indexOf('[');
  if (start >= 0) {
    const end = out.indexOf('\n', start);
    try {
      const groups = JSON.parse(out.slice(start, end < 0 ? undefined : end)) as Record<string, any>[];
      for (const g of groups) {
        for (const s of g.remove ?? []) removed.push(s.id);
        for (const s of g.keep ?? []) kept.push(s.id);
      }
    } catch {
      /* restic's prune report follows the JSON; the counts are informative only */
    }
  }
  return { removed, kept };
}
