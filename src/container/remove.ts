// docker rm: a running container is refused or (with force) killed, then its storage goes —
// rootfs mount, size limit, writable/init/image-mount snapshots, volume references and, with
// -v, its anonymous volumes, its directories — before its row. The removal is marked
// incomplete while under way, so that one the daemon does not live to finish is finished at the
// next start (recover.ts).
import { Conflict, isNotFound } from '../errors.js';
import { isMountPoint, unmount } from '../mount/kernel.js';
import { removeTreeNoCross } from '../mount/scratch.js';
import type { ContainerRecord } from './types.js';
import { bundleDir, containerDir, emit, liveOf, withLock, type Ctx } from './context.js';
import type { ExecStore } from './exec.js';
import { REMOVE_MARK } from './recover.js';
import { hasLayerSizeLimit, releaseLayerSizeLimit } from './storage-opts.js';
import { removeImageMountSnapshots } from './image-mount.js';
import { thaw } from './stop.js';

export interface RemoveOptions {
  force?: boolean;
  volumes?: boolean;
}

export async function removeContainer(
  ctx: Ctx,
  execs: Pick<ExecStore, 'forget'>,
  ref: string,
  opts: RemoveOptions,
): Promise<void> {
  const rec = ctx.store.get(ref);
  const live = liveOf(ctx, rec.id);
  if (live.removing) throw new Conflict(`removal of container ${rec.id} is already in progress`);
  await withLock(ctx, rec.id, async () => {
    if (rec.state.Running) {
      if (!opts.force) {
        throw new Conflict(
          `You cannot remove a running container ${rec.id}. Stop the container before attempting removal or force remove`,
        );
      }
      live.stoppedByUser = true;
      await thaw(ctx, rec);
      // dockerd's forced removal is a kill like any other: `kill` (signal 9), then `die`, then `destroy`.
      emit(ctx, 'kill', rec, { signal: '9' });
      await ctx.runtime.kill(rec.id, 'SIGKILL', true).catch(() => undefined);
    }
    await live.exited;
    live.removing = true;
    rec.state.Status = 'removing';
    // A removal the daemon does not live to finish is finished at the next start.
    ctx.incomplete.begin(REMOVE_MARK, rec.id, { volumes: !!opts.volumes });
    try {
      await removeStorage(ctx, rec, !!opts.volumes);
    } catch (err) {
      live.removing = false;
      rec.state.Status = 'dead';
      ctx.incomplete.transaction(() => {
        ctx.store.save(rec);
        ctx.incomplete.end(REMOVE_MARK, rec.id);
      });
      throw err;
    }
    ctx.incomplete.transaction(() => {
      ctx.store.delete(rec.id);
      ctx.incomplete.end(REMOVE_MARK, rec.id);
    });
    emit(ctx, 'destroy', rec);
    for (const w of live.removeWaiters.splice(0)) w(rec.state.ExitCode);
    for (const w of live.exitWaiters.splice(0)) w(rec.state.ExitCode);
    live.log.close();
    execs.forget(rec.id);
    ctx.live.delete(rec.id);
  });
}

async function removeStorage(ctx: Ctx, rec: ContainerRecord, removeVolumes: boolean): Promise<void> {
  if (await isMountPoint(rec.rootfsPath)) await unmount(rec.rootfsPath, { lazy: true });
  if (hasLayerSizeLimit(rec.hostConfig.StorageOpt)) {
    await releaseLayerSizeLimit(ctx.snapshotter, rec.snapshotKey, ctx.projectIds).catch((e: unknown) => {
      if (!isNotFound(e)) ctx.log.warn(`container ${rec.id}: ${(e as Error).message}`);
    });
  }
  await ctx.snapshotter.remove(rec.snapshotKey).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
  if (rec.initSnapshot) {
    await ctx.snapshotter.remove(rec.initSnapshot).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }
  await removeImageMountSnapshots(ctx.snapshotter, rec.id);
  for (const m of rec.mounts) {
    if (m.type !== 'volume' || !m.source) continue;
    try {
      ctx.volumes.release(m.source, rec.id);
    } catch {
      /* already gone */
    }
    // Only anonymous volumes go with `rm -v`; one still used elsewhere stays (B4).
    if (removeVolumes && (rec.anonymousVolumes ?? []).includes(m.source)) {
      await ctx.volumes.remove(m.source).catch(() => undefined);
    }
  }
  removeTreeNoCross(containerDir(ctx, rec.id));
  removeTreeNoCross(bundleDir(ctx, rec.id));
}
