// xfs project quotas, as Docker's quota package uses them for overlay2's `--storage-opt size`
// and the local volume driver's `size`: the directory gets its own project ID (inherited by
// everything created below it) and a hard block limit. Only xfs mounted with project quotas
// (pquota/prjquota) can do this; callers refuse the option elsewhere with Docker's error.
//
// The limits are set with xfs_quota (xfsprogs) rather than the quotactl syscall: one external
// command per container or volume create, whose error text says what went wrong.
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { SystemError } from '../errors.js';

const XFS_SUPER_MAGIC = 0x58465342;

export function quotaSupported(dir: string): boolean {
  try {
    if (fs.statfsSync(dir).type !== XFS_SUPER_MAGIC) return false;
    const m = mountOf(fs.realpathSync(dir));
    return m !== undefined && /(^|,)(prjquota|pquota|pqnoenforce)(,|$)/.test(m.superOptions);
  } catch {
    return false;
  }
}

export function mountOf(p: string): { mountPoint: string; superOptions: string } | undefined {
  let best: { mountPoint: string; superOptions: string } | undefined;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const under = mp === '/' || p === mp || p.startsWith(mp + '/');
    if (under && (!best || mp.length >= best.mountPoint.length))
      best = { mountPoint: mp, superOptions: f[dash + 3] ?? '' };
  }
  return best;
}

/**
 * Gives `dir` its own project and a hard block limit of `bytes`. The project ID is derived from
 * the path, so the same volume always gets the same ID without extra state.
 */
export async function applyProjectQuota(dir: string, bytes: number): Promise<void> {
  const mnt = mountOf(fs.realpathSync(dir))?.mountPoint ?? '/';
  const id = 1_000_000 + (createHash('sha256').update(dir).digest().readUInt32BE(0) % 1_000_000_000);
  await xfsQuota(mnt, `project -s -p ${dir} ${id}`);
  await xfsQuota(mnt, `limit -p bhard=${bytes} ${id}`);
}

function xfsQuota(mnt: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('xfs_quota', ['-x', '-c', command, mnt], (err, _out, stderr) => {
      if (err) reject(new SystemError(`set quota: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}
