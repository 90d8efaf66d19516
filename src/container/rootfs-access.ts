// What docker cp and docker export read of a container's filesystem: for cp the rootfs with its
// volumes, binds and image mounts in place (as Docker mounts them for archive operations), for
// export the rootfs alone. Each mount is placed and undone through directory fds, never a path
// a container could swap underneath.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ContainerRecord } from './types.js';
import type { Ctx } from './context.js';
import { acquireRootfs, releaseRootfs } from './rootfs.js';
import { bindInRoot, openMountSource } from './bind-in-root.js';
import { detachMount, openDetachedCopy } from '../mount/fd-mount.js';
import { openTrustedDirectory } from '../mount/in-root.js';
import { imageMountForCopy } from './image-mount.js';
import { releaseStaging, stagingDirOf } from '../mount/staging.js';

/** docker cp: the rootfs with volumes and binds in place, as Docker mounts them for archive ops. */
export async function withRootfs<T>(
  ctx: Ctx,
  ref: string,
  fn: (rootfs: string, c: ContainerRecord) => Promise<T>,
): Promise<T> {
  const rec = ctx.store.get(ref);
  const rootfs = await acquireRootfs(ctx, rec);
  const placed: number[] = [];
  const volumes: string[] = [];
  let rootFd: number | undefined;
  let copyStaging: string | undefined;
  try {
    rootFd = openTrustedDirectory(rootfs);
    for (const m of [...rec.mounts].sort((a, b) => a.destination.length - b.destination.length)) {
      if (m.type === 'tmpfs') continue;
      let source = m.source;
      if (m.type === 'image') {
        copyStaging ??= `${stagingDirOf(ctx.dataRoot, rec.id)}-copy-${randomBytes(6).toString('hex')}`;
        const running = rec.state.Running ? stagingDirOf(ctx.dataRoot, rec.id) : undefined;
        source = await imageMountForCopy(ctx.snapshotter, m, rec.mounts.indexOf(m), running, copyStaging);
      }
      if (m.type === 'volume') {
        source = await ctx.volumes.mount(m.source, rec.id);
        volumes.push(m.source);
      }
      const sourceFd = openMountSource(source, m.type === 'volume' ? m.subpath : undefined);
      if (sourceFd === undefined) continue;
      try {
        placed.push(bindInRoot(rootFd, sourceFd, m.destination, m.readOnly));
      } finally {
        fs.closeSync(sourceFd);
      }
    }
    return await fn(rootfs, rec);
  } finally {
    // Through each mount's own fd, innermost first: exactly what this copy placed, nothing else.
    for (const fd of placed.reverse()) {
      try {
        detachMount(fd);
      } catch (e) {
        ctx.log.warn(`container ${rec.id}: unmount after copy: ${e}`);
      }
    }
    if (rootFd !== undefined) fs.closeSync(rootFd);
    if (copyStaging) await releaseStaging(copyStaging).catch((e: unknown) => ctx.log.warn(`copy: ${e}`));
    for (const v of volumes) await ctx.volumes.unmount(v, rec.id).catch(() => undefined);
    await releaseRootfs(ctx, rec);
  }
}

/**
 * docker export: the rootfs alone (no volumes, binds or tmpfs), read through a detached copy of
 * its mount, which is the running container's own while it runs: its layers are never mounted a
 * second time, as a second overlay on a writable layer in use would be.
 */
export async function withRootfsTree<T>(
  ctx: Ctx,
  ref: string,
  fn: (dirFd: number, c: ContainerRecord) => Promise<T>,
): Promise<T> {
  const rec = ctx.store.get(ref);
  const rootfs = await acquireRootfs(ctx, rec);
  try {
    const pathFd = openTrustedDirectory(rootfs);
    let copy: { mountFd: number; dirFd: number };
    try {
      copy = openDetachedCopy(pathFd);
    } finally {
      fs.closeSync(pathFd);
    }
    try {
      return await fn(copy.dirFd, rec);
    } finally {
      fs.closeSync(copy.dirFd);
      fs.closeSync(copy.mountFd);
    }
  } finally {
    await releaseRootfs(ctx, rec);
  }
}
