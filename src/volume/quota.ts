// The local driver's `size` option: an xfs project quota on the volume's _data, which needs the
// volumes directory on xfs mounted with project quotas (prjquota). Anything else has no quota
// support, and Docker refuses `size` there.
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

function mountOf(p: string): { mountPoint: string; superOptions: string } | undefined {
  let best: { mountPoint: string; superOptions: string } | undefined;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const under = mp === '/' || p === mp || p.startsWith(mp + '/');
    if (under && (!best || mp.length >= best.mountPoint.length)) best = { mountPoint: mp, superOptions: f[dash + 3] ?? '' };
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
