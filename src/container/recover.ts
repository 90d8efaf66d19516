// Startup recovery of the container room, after the daemon was killed. One rule: an operation
// still marked incomplete is rolled back (a create: everything its mark and its ID name goes)
// or finished (a removal). Then what no container row owns any more (a writable or init
// snapshot, a directory under containers/) is removed, which also covers data-roots written
// before creates were marked, and AutoRemove containers whose process is gone are removed, as
// Docker's daemon does when it restores containers.
//
// Containers do not outlive the daemon: one that was running when the daemon was killed is
// recorded as exited (255), after its runc leftovers are deleted and its rootfs unmounted; those
// with restart policy "always", and "unless-stopped" ones that were running, start again.
import fs from 'node:fs';
import path from 'node:path';
import { NotFound } from '../errors.js';
import { isMountPoint, unmount } from '../mount/kernel.js';
import { removeTreeNoCross } from '../mount/scratch.js';
import { CREATE_MARK, type CreateMark } from './create.js';
import { releaseIpc } from './ipc.js';
import { bundleDir, containerDir, nowIso, type Ctx } from './context.js';
import { removeImageMountSnapshots } from './image-mount.js';
import { releaseLayerSizeLimit } from './storage-opts.js';

/** The incomplete mark of a removal; its detail says whether anonymous volumes go too. */
export const REMOVE_MARK = 'container-remove';
export interface RemoveMark {
  volumes: boolean;
}

/** Snapshot keys a container owns: its writable layer, its init layer (and while it is made), its image mounts. */
export const containerSnapshotKey = /^container-([0-9a-f]{64})(-init(-prepare)?|-image-\d+)?$/;
const CONTAINER_ID = /^[0-9a-f]{64}$/;

type Remove = (id: string, volumes: boolean) => Promise<void>;

/** After a crash: runc leftovers deleted, rootfs unmounted, running containers recorded as exited, interrupted operations undone or finished, AutoRemove containers removed. */
export async function recoverContainers(ctx: Ctx, remove: Remove, start: (id: string) => Promise<void>): Promise<void> {
  for (const id of await ctx.runtime.list().catch(() => [] as string[])) await ctx.runtime.delete(id);
  for (const rec of ctx.store.all()) {
    if (await isMountPoint(rec.rootfsPath)) await unmount(rec.rootfsPath, { lazy: true }).catch(() => undefined);
    await releaseIpc(ctx, rec.id).catch(() => undefined);
    if (rec.state.Running || rec.state.Status === 'restarting' || rec.state.Status === 'removing') {
      Object.assign(rec.state, { Status: 'exited', Running: false, Pid: 0, ExitCode: 255, FinishedAt: nowIso() });
      if (rec.state.Health) rec.state.Health.Status = 'unhealthy';
      ctx.store.save(rec);
    }
  }
  removeTreeNoCross(path.join(ctx.execRoot, 'containers'));
  removeTreeNoCross(path.join(ctx.execRoot, 'exec-processes'));
  await finishInterrupted(ctx, remove);
  // As Docker does at restart: an AutoRemove container whose process is gone is removed.
  await removeAutoRemoved(ctx, (id) => remove(id, true));
  // Docker's restart policies bring back "always" containers after a daemon restart.
  for (const rec of ctx.store.all()) {
    const p = rec.hostConfig.RestartPolicy?.Name;
    if (p === 'always' || (p === 'unless-stopped' && rec.state.ExitCode === 255)) {
      await start(rec.id).catch((e: unknown) => ctx.log.warn(`restart ${rec.id}: ${e}`));
    }
  }
}

export async function finishInterrupted(ctx: Ctx, remove: Remove): Promise<void> {
  for (const mark of ctx.incomplete.list<CreateMark>(CREATE_MARK)) {
    if (!ctx.store.find(mark.key)) {
      ctx.log.warn(`container ${mark.key}: rolling back a create the daemon did not finish`);
      await removeLeftovers(ctx, mark.key, mark.detail);
    }
    ctx.incomplete.end(CREATE_MARK, mark.key);
  }
  for (const mark of ctx.incomplete.list<RemoveMark>(REMOVE_MARK)) {
    ctx.log.warn(`container ${mark.key}: finishing a removal the daemon did not finish`);
    if (ctx.store.find(mark.key)) {
      await remove(mark.key, mark.detail.volumes).catch((e: unknown) =>
        ctx.log.warn(`container ${mark.key}: remove: ${e}`),
      );
    } else {
      await removeLeftovers(ctx, mark.key, { volumes: [], refs: [] });
    }
    ctx.incomplete.end(REMOVE_MARK, mark.key);
  }
  await removeOrphans(ctx);
}

/** AutoRemove containers that are not running (after a crash: all of them). */
export async function removeAutoRemoved(ctx: Ctx, remove: (id: string) => Promise<void>): Promise<void> {
  for (const rec of ctx.store.all()) {
    if (!rec.hostConfig.AutoRemove || rec.state.Running) continue;
    ctx.log.info(`container ${rec.id}: removing (AutoRemove, its process is gone)`);
    await remove(rec.id).catch((e: unknown) => ctx.log.warn(`container ${rec.id}: auto-remove: ${e}`));
  }
}

/** Whatever a container with this ID had: its snapshots, volume references and anonymous volumes, directories. */
export async function removeLeftovers(ctx: Ctx, id: string, made: CreateMark): Promise<void> {
  const rootfs = `${containerDir(ctx, id)}/merged`;
  if (await isMountPoint(rootfs)) await unmount(rootfs, { lazy: true }).catch(() => undefined);
  await releaseIpc(ctx, id).catch(() => undefined);
  // A create interrupted after its size limit was set: the limit goes before the layer.
  await releaseLayerSizeLimit(ctx.snapshotter, `container-${id}`, ctx.projectIds).catch(() => undefined);
  // The writable layer sits on the init layer: children first.
  for (const key of [`container-${id}`, `container-${id}-init`, `container-${id}-init-prepare`]) {
    await ctx.snapshotter.remove(key).catch((e: unknown) => {
      if (!(e instanceof NotFound)) ctx.log.warn(`container ${id}: snapshot ${key}: ${e}`);
    });
  }
  await removeImageMountSnapshots(ctx.snapshotter, id).catch((e: unknown) =>
    ctx.log.warn(`container ${id}: image mount snapshots: ${e}`),
  );
  for (const name of made.refs) {
    try {
      ctx.volumes.release(name, id);
    } catch {
      /* gone already */
    }
  }
  for (const name of made.volumes) {
    try {
      if (ctx.volumes.users(name).some((u) => u !== id)) continue;
      await ctx.volumes.remove(name, { force: true });
    } catch (e) {
      if (!(e instanceof NotFound)) ctx.log.warn(`container ${id}: anonymous volume ${name}: ${e}`);
    }
  }
  removeTreeNoCross(containerDir(ctx, id));
  removeTreeNoCross(bundleDir(ctx, id));
}

/** Snapshots and directories named after containers no row knows. */
async function removeOrphans(ctx: Ctx): Promise<void> {
  const orphanIds = new Set<string>();
  await ctx.snapshotter.walk((info) => {
    const m = containerSnapshotKey.exec(info.name);
    if (m && !ctx.store.find(m[1]!)) orphanIds.add(m[1]!);
  });
  const root = containerDir(ctx, '');
  for (const name of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    if (CONTAINER_ID.test(name) && !ctx.store.find(name)) orphanIds.add(name);
  }
  for (const id of orphanIds) {
    // find() also matches prefixes and names; only an exact row counts as an owner.
    if (ctx.store.all().some((c) => c.id === id)) continue;
    ctx.log.warn(`container ${id}: removing storage no container owns`);
    await removeLeftovers(ctx, id, { volumes: [], refs: [] });
  }
}
