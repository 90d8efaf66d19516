// docker diff and docker export: what a container's writable layer changed, and its whole
// filesystem as a tar. Both read the snapshot itself, never the live rootfs mount, so volumes,
// binds and tmpfs mounted over it are left out (only the mountpoint directories created in the
// writable layer show), exactly as dockerd reads its RWLayer.
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ContainerOpsDeps } from './ops-deps.js';
import type { Change } from '../archive/types.js';
import { computeChanges, packTree } from '../archive/index.js';
import { mountAll, unmount } from '../mount/kernel.js';

export async function containerChanges(engine: ContainerOpsDeps, ref: string): Promise<Change[]> {
  const rec = await engine.containers.get(ref);
  const src = await engine.snapshotter.diffSource(rec.snapshotKey);
  return computeChanges(src);
}

/** Writes the container's filesystem (image + writable layer, no mounts) to `out` as a tar. */
export async function exportContainer(
  engine: ContainerOpsDeps,
  ref: string,
  out: Writable,
  onStart?: () => void,
): Promise<void> {
  const rec = await engine.containers.get(ref);
  const src = await engine.snapshotter.diffSource(rec.snapshotKey);
  if (src.kind === 'naive' || src.lowers.length === 0) {
    // vfs: the writable layer is a full copy of the filesystem; overlay on no image layers
    // (scratch) has nothing to stack on, and the kernel wants two lowers for a read-only view.
    onStart?.();
    await pipeline(packTree(src.upper), out);
    return;
  }
  // overlay: a read-only view that stacks the writable layer on its lowers. The writable layer
  // serves as a lower here, so this never competes with the container's own mount for it.
  const stage = fs.mkdtempSync(path.join(stagingDir(engine), 'export-'));
  try {
    await mountAll(
      [{ type: 'overlay', source: 'overlay', options: ['ro', `lowerdir=${[src.upper, ...src.lowers].join(':')}`] }],
      stage,
    );
    try {
      onStart?.();
      await pipeline(packTree(stage), out);
    } finally {
      await unmount(stage).catch(() => unmount(stage, { lazy: true }));
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function stagingDir(engine: ContainerOpsDeps): string {
  const dir = path.join(engine.config.dataRoot, 'tmp');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
