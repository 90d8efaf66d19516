// docker diff and docker export: what a container's writable layer changed, and its whole
// filesystem as a tar. Neither sees volumes, binds or tmpfs mounted over the rootfs (only the
// mountpoint directories created in the writable layer show), exactly as dockerd reads its
// RWLayer: diff reads the snapshot's directories, export the rootfs mount alone.
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerOpsDeps } from './ops-deps.js';
import type { Change } from '../archive/types.js';
import { computeChanges, packTreeAt } from '../archive/index.js';

export async function containerChanges(engine: ContainerOpsDeps, ref: string): Promise<Change[]> {
  const rec = await engine.containers.get(ref);
  const src = await engine.snapshotter.diffSource(rec.snapshotKey);
  return computeChanges(src);
}

/**
 * Writes the container's filesystem (image + writable layer, no mounts) to `out` as a tar, read
 * through a detached copy of its rootfs mount: a running container's own mount, shared, never a
 * second overlay over its writable layer (the kernel warns that a lowerdir is in use as an
 * upperdir, and reading both is undefined).
 */
export async function exportContainer(
  engine: ContainerOpsDeps,
  ref: string,
  out: Writable,
  onStart?: () => void,
): Promise<void> {
  await engine.containers.withRootfsTree(ref, async (dirFd) => {
    onStart?.();
    await pipeline(packTreeAt(dirFd), out);
  });
}
