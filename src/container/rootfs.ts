// Mounting a container's root filesystem (the writable layer on its image) at rootfsPath,
// shared by a run and any docker cp happening at the same time.
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { mountAll, unmount } from '../mount/kernel.js';
import type { Ctx } from './context.js';
import { liveOf } from './context.js';
import type { ContainerRecord } from './types.js';

export async function acquireRootfs(ctx: Ctx, rec: ContainerRecord): Promise<string> {
  const live = liveOf(ctx, rec.id);
  if (live.rootfsRefs++ === 0) {
    // After any unmount still under way: mounting first would have that unmount take the new mount.
    live.rootfsSettled = (live.rootfsSettled ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        fs.mkdirSync(rec.rootfsPath, { recursive: true, mode: 0o710 });
        await mountAll(await ctx.snapshotter.mounts(rec.snapshotKey), rec.rootfsPath);
        // Private, so that nothing mounted here on the host (docker cp puts volumes in place)
        // propagates into the running container, and nothing of the container's comes back.
        await new Promise<void>((resolve) => execFile('mount', ['--make-private', rec.rootfsPath], () => resolve()));
      });
  }
  try {
    await live.rootfsSettled;
  } catch (err) {
    live.rootfsRefs--;
    throw err;
  }
  return rec.rootfsPath;
}

export async function releaseRootfs(ctx: Ctx, rec: ContainerRecord): Promise<void> {
  const live = liveOf(ctx, rec.id);
  if (live.rootfsRefs === 0) return;
  if (--live.rootfsRefs > 0) return;
  const path = rec.rootfsPath;
  live.rootfsSettled = unmount(path).catch(async () => unmount(path, { lazy: true }));
  await live.rootfsSettled;
}
