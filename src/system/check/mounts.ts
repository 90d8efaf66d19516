// Stale mounts and scratch leftovers. A mount under the data-root or the exec-root is needed
// only by a container whose mounts are in use (its rootfs, its bundle, its volumes, or anything
// whose path names its ID); everything else mounted there is left over. A container's exit is
// answered before its unmounts, and a restart policy starts one with no request, so "in use"
// is the container room's word (running, starting, being torn down, mounted for docker cp),
// not the record's Running flag; it is read before and after the mount table, and again
// before a repair, so a container that got there meanwhile keeps its mounts. A mount point that
// is one of the data-root's own top-level directories (say volumes/ on a disk of its own) is the
// administrator's, never Strata's, and is not judged.
import fs from 'node:fs';
import path from 'node:path';
import { isMountPoint, readMountInfo } from '../../mount/kernel.js';
import { stagingRootOf } from '../../mount/staging.js';
import { detachMountsBeneath, removeTreeNoCross } from '../../mount/scratch.js';
import { MNT_DETACH, umount2 } from '../../native/syscalls.js';
import { directoryUsage } from '../../snapshot/usage.js';
import type { CheckEnv, Fault } from './types.js';
import { count } from './types.js';

const within = (p: string, root: string) => p === root || p.startsWith(root + '/');

/** Whether a path belongs to a container whose mounts are in use now. */
async function inUseNow(env: CheckEnv): Promise<(p: string) => boolean> {
  const ids = env.engine.containers.mountsInUse();
  const needed: string[] = [];
  for (const c of await env.engine.containers.list()) {
    if (!ids.has(c.id)) continue;
    needed.push(c.rootfsPath, path.join(env.execRoot, 'containers', c.id));
    for (const m of c.mounts)
      if (m.type === 'volume' && m.source) needed.push(path.join(env.dataRoot, 'volumes', m.source));
  }
  return (p) => needed.some((n) => within(p, n)) || [...ids].some((id) => p.includes(id));
}

export async function checkMounts(env: CheckEnv): Promise<Fault[]> {
  const before = await inUseNow(env);
  const mounts = await readMountInfo();
  const after = await inUseNow(env);
  const top = new Set(
    fs.existsSync(env.dataRoot) ? fs.readdirSync(env.dataRoot).map((n) => path.join(env.dataRoot, n)) : [],
  );
  const faults: Fault[] = [];
  let seen = 0;
  for (const m of mounts) {
    const under = [env.dataRoot, env.execRoot].some((r) => m.mountPoint.startsWith(r + '/'));
    if (!under || top.has(m.mountPoint)) continue;
    seen++;
    if (before(m.mountPoint) || after(m.mountPoint)) continue;
    if (!env.quiet) continue;
    if (faults.some((f) => f.path === m.mountPoint)) continue; // stacked: one fault, one detach takes them all
    faults.push({
      kind: 'stale-mount',
      path: m.mountPoint,
      size: 0,
      detail: `${m.fsType} from ${m.source}: no running container needs it`,
      still: async () => (await isMountPoint(m.mountPoint)) && !(await inUseNow(env))(m.mountPoint),
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

/**
 * Entries of tmp/ and of the exec-root's build/: scratch of operations, all gone once they end.
 * tmp/mounts/ holds one directory per container, released with its run's teardown: each is
 * judged apart, and one of a container whose mounts are in use is left to it.
 */
export async function checkScratch(env: CheckEnv): Promise<Fault[]> {
  if (!env.quiet) {
    env.skipped.push('scratch under tmp/ and the exec-root: other requests were in flight');
    return [];
  }
  const tmp = path.join(env.dataRoot, 'tmp');
  const staging = stagingRootOf(env.dataRoot);
  const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).map((n) => path.join(dir, n)) : []);
  const entries = [
    ...list(tmp).filter((p) => p !== staging || !fs.statSync(p).isDirectory()),
    ...(fs.existsSync(staging) && fs.statSync(staging).isDirectory() ? list(staging) : []),
    ...list(path.join(env.execRoot, 'build')),
  ];
  count(env, 'scratch entries', entries.length);
  const before = await inUseNow(env);
  const faults: Fault[] = [];
  for (const p of entries) {
    if (before(p)) continue;
    faults.push({
      kind: 'scratch-leftover',
      path: p,
      size: (await directoryUsage(p).catch(() => ({ size: 0 }))).size,
      detail: 'scratch no operation is using',
      still: async () => fs.existsSync(p) && !(await inUseNow(env))(p),
      repair: async () => {
        await detachMountsBeneath(p);
        if (await isMountPoint(p)) umount2(p, MNT_DETACH);
        const kept = removeTreeNoCross(p);
        if (kept.length > 0) throw new Error(`${kept[0]} is still a mount point`);
        return 'removed';
      },
    });
  }
  return faults;
}
