// Stale mounts and scratch leftovers. A mount under the data-root or the exec-root is needed
// only by a running container (its rootfs, its bundle, its volumes, or anything whose path
// names its ID); everything else mounted there is left over. A mount point that is one of the
// data-root's own top-level directories (say volumes/ on a disk of its own) is the
// administrator's, never Strata's, and is not judged.
import fs from 'node:fs';
import path from 'node:path';
import { isMountPoint, readMountInfo } from '../../mount/kernel.js';
import { detachMountsBeneath, removeTreeNoCross } from '../../mount/scratch.js';
import { MNT_DETACH, umount2 } from '../../native/syscalls.js';
import { directoryUsage } from '../../snapshot/usage.js';
import type { CheckEnv, Fault } from './types.js';
import { count } from './types.js';

export async function checkMounts(env: CheckEnv): Promise<Fault[]> {
  const running = (await env.engine.containers.list()).filter((c) => c.state.Running);
  const needed: string[] = [];
  for (const c of running) {
    needed.push(c.rootfsPath, path.join(env.execRoot, 'containers', c.id));
    for (const m of c.mounts)
      if (m.type === 'volume' && m.source) needed.push(path.join(env.dataRoot, 'volumes', m.source));
  }
  const ids = running.map((c) => c.id);
  const within = (p: string, root: string) => p === root || p.startsWith(root + '/');
  const top = new Set(
    fs.existsSync(env.dataRoot) ? fs.readdirSync(env.dataRoot).map((n) => path.join(env.dataRoot, n)) : [],
  );
  const faults: Fault[] = [];
  let seen = 0;
  for (const m of await readMountInfo()) {
    const under = [env.dataRoot, env.execRoot].some((r) => m.mountPoint.startsWith(r + '/'));
    if (!under || top.has(m.mountPoint)) continue;
    seen++;
    if (needed.some((n) => within(m.mountPoint, n)) || ids.some((id) => m.mountPoint.includes(id))) continue;
    if (!env.quiet) continue;
    if (faults.some((f) => f.path === m.mountPoint)) continue; // stacked: one fault, one detach takes them all
    faults.push({
      kind: 'stale-mount',
      path: m.mountPoint,
      size: 0,
      detail: `${m.fsType} from ${m.source}: no running container needs it`,
      still: () => isMountPoint(m.mountPoint),
      repair: async () => {
        for (let i = 0; i < 64 && (await isMountPoint(m.mountPoint)); i++) umount2(m.mountPoint, MNT_DETACH);
        return 'unmounted (detached)';
      },
    });
  }
  count(env, 'mounts', seen);
  if (!env.quiet) env.skipped.push('mounts not needed by a running container: other requests were in flight');
  return faults;
}

/** Entries of tmp/ and of the exec-root's build/: scratch of operations, all gone once they end. */
export async function checkScratch(env: CheckEnv): Promise<Fault[]> {
  if (!env.quiet) {
    env.skipped.push('scratch under tmp/ and the exec-root: other requests were in flight');
    return [];
  }
  const faults: Fault[] = [];
  for (const dir of [path.join(env.dataRoot, 'tmp'), path.join(env.execRoot, 'build')]) {
    const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    count(env, 'scratch entries', names.length);
    for (const name of names) {
      const p = path.join(dir, name);
      faults.push({
        kind: 'scratch-leftover',
        path: p,
        size: (await directoryUsage(p).catch(() => ({ size: 0 }))).size,
        detail: 'scratch no operation is using',
        still: () => fs.existsSync(p),
        repair: async () => {
          await detachMountsBeneath(p);
          if (await isMountPoint(p)) umount2(p, MNT_DETACH);
          const kept = removeTreeNoCross(p);
          if (kept.length > 0) throw new Error(`${kept[0]} is still a mount point`);
          return 'removed';
        },
      });
    }
  }
  return faults;
}
