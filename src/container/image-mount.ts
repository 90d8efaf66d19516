// Image mounts (`--mount type=image,source=IMAGE,target=PATH[,image-subpath=DIR]`): another
// image's filesystem at a path in the container, made from that image's own layers, never a
// copy of them. At create the reference is resolved (a missing image refuses the create before
// anything is made) and a snapshot is made on the image's top layer: a view when read-only (on
// overlay2 an overlay of the layer directories with no upper, on vfs a read-only bind of the
// top layer, itself a full tree), an active snapshot when read-write (Podman's form: the
// container's writes go to an upper layer of its own, kept across restarts, removed with the
// container). At each start the snapshot is mounted on a staging mount point under
// <data-root>/tmp/mounts/<container> (see mount/staging.ts) and an image-subpath is opened
// beneath that root with openat2 and bound from its fd, so runc only ever gets daemon-owned
// paths. The staging mounts go when the container stops or its start fails, and startup sweeps
// what a crash left there. The snapshots are children of the image's layers, and the container
// counts as a user of the image (docker rmi refuses as for the image of a container).
import fs from 'node:fs';
import path from 'node:path';
import type { MountSpec } from '../mount/spec-types.js';
import type { Snapshotter } from '../snapshot/snapshotter.js';
import type { ImageService } from '../image/types.js';
import { isMountPoint, mountAll } from '../mount/kernel.js';
import { stageVolumeSubpath } from '../mount/staging.js';
import { isNotFound } from '../errors.js';

/** Snapshot keys of a container's image mounts start with this (the recovery sweep knows them by it too). */
export const imageMountKeyPrefix = (containerId: string): string => `container-${containerId}-image-`;

/**
 * Resolves each image mount's reference (NotFound `No such image: …` as Docker answers) and
 * records the image ID on the spec. Returns the top layer each snapshot is to be made on.
 */
export async function resolveImageMounts(
  images: Pick<ImageService, 'resolve'>,
  specs: MountSpec[],
): Promise<Map<MountSpec, string | undefined>> {
  const parents = new Map<MountSpec, string | undefined>();
  for (const m of specs) {
    if (m.type !== 'image') continue;
    const image = await images.resolve(m.source);
    m.imageId = image.id;
    parents.set(m, image.topChainID);
  }
  return parents;
}

/** Makes each image mount's snapshot; `undo` gets their removal, for a create that fails later. */
export async function prepareImageMounts(
  snapshotter: Pick<Snapshotter, 'view' | 'prepare' | 'remove'>,
  containerId: string,
  parents: Map<MountSpec, string | undefined>,
  undo: (() => Promise<unknown>)[],
): Promise<void> {
  let n = 0;
  for (const [m, parent] of parents) {
    const key = `${imageMountKeyPrefix(containerId)}${n++}`;
    const labels = { 'strata.container': containerId };
    if (m.readOnly) await snapshotter.view(key, parent, labels);
    else await snapshotter.prepare(key, parent, labels);
    m.imageSnapshot = key;
    undo.push(async () => snapshotter.remove(key));
  }
}

/**
 * Mounts the image mount `m` (the `index`th mount point of the container) under `stagingDir`
 * and returns the path runc binds from: the image's root, or the subpath inside it.
 */
export async function stageImageMount(
  snapshotter: Pick<Snapshotter, 'mounts'>,
  m: MountSpec,
  stagingDir: string,
  index: number,
): Promise<string> {
  if (!m.imageSnapshot) throw new Error(`image mount at ${m.destination} has no snapshot`);
  const mounts = await snapshotter.mounts(m.imageSnapshot);
  fs.mkdirSync(path.dirname(stagingDir), { recursive: true, mode: 0o700 });
  fs.mkdirSync(stagingDir, { recursive: true, mode: 0o700 });
  const root = path.join(stagingDir, `image-${index}`);
  fs.mkdirSync(root, { mode: 0o700 });
  await mountAll(mounts, root);
  if (!m.subpath) return root;
  // The root stays mounted under the staging dir: releasing the staging dir takes both.
  return stageVolumeSubpath(stagingDir, `image-${index}-subpath`, root, m.subpath);
}

/**
 * For docker cp: where the image mount `m` (the `index`th mount point) is on the host. A running
 * container's own staged mount is shared (a second overlay on the same upper dir is not
 * allowed); otherwise it is staged now under `copyStaging`, which the caller releases.
 */
export async function imageMountForCopy(
  snapshotter: Pick<Snapshotter, 'mounts'>,
  m: MountSpec,
  index: number,
  runningStaging: string | undefined,
  copyStaging: string,
): Promise<string> {
  if (runningStaging) {
    const staged = path.join(runningStaging, m.subpath ? `image-${index}-subpath` : `image-${index}`);
    if (await isMountPoint(staged)) return staged;
  }
  return stageImageMount(snapshotter, m, copyStaging, index);
}

/** Removes every image-mount snapshot of a container (on rm, and for leftovers of a create the daemon did not finish). */
export async function removeImageMountSnapshots(
  snapshotter: Pick<Snapshotter, 'walk' | 'remove'>,
  containerId: string,
): Promise<void> {
  const prefix = imageMountKeyPrefix(containerId);
  const keys: string[] = [];
  await snapshotter.walk((info) => {
    if (info.name.startsWith(prefix)) keys.push(info.name);
  });
  for (const key of keys) {
    await snapshotter.remove(key).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }
}

/** Whether a container stands on the image or mounts it. */
export const usesImage = (c: { imageId: string; mounts: MountSpec[] }, imageId: string): boolean =>
  c.imageId === imageId || c.mounts.some((m) => m.type === 'image' && m.imageId === imageId);
