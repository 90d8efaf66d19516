// A writable root filesystem on top of an image, for one build step: a snapshot prepared on the
// image's top layer and mounted, then (after the step has changed it) unmounted and turned into
// a layer tar of exactly what the step changed. The same path serves RUN and COPY/ADD, as in
// Docker's classic builder, where both end in a commit of a container's writable layer.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BuilderDeps } from './deps.js';
import type { ImageRecord } from '../image/types.js';
import { mountAll, unmount } from '../mount/kernel.js';
import { computeChanges, exportLayer } from '../archive/index.js';
import { EXTRACT_KEY_PREFIX, type Snapshotter } from '../snapshot/snapshotter.js';
import { lazyUnmountOnExit } from './exit-hooks.js';

/** What a build step changed in snapshot `key`, as a layer tar; undefined when nothing (an empty layer). */
export async function stepLayer(snapshotter: Snapshotter, key: string): Promise<Readable | undefined> {
  const diff = await snapshotter.diffSource(key);
  if ((await computeChanges(diff)).length === 0) return undefined;
  return exportLayer(diff);
}

export class Workspace {
  private mounted = false;
  private forgetExitHook = () => {};

  private constructor(
    private readonly deps: Pick<BuilderDeps, 'snapshotter'>,
    readonly key: string,
    /** Private directory for this step (bundle files, mountpoint). */
    readonly dir: string,
    readonly rootfs: string,
  ) {}

  static async open(
    deps: Pick<BuilderDeps, 'execRoot' | 'snapshotter'>,
    image: ImageRecord | undefined,
  ): Promise<Workspace> {
    const id = crypto.randomBytes(16).toString('hex');
    // Under the exec root, like runc's state: a mount left by a crash never blocks the
    // data-root's tmp sweep at the next start.
    const dir = path.join(deps.execRoot, 'build', id);
    const rootfs = path.join(dir, 'rootfs');
    fs.mkdirSync(rootfs, { recursive: true, mode: 0o700 });
    // An extract- key makes the snapshotter's startup cleanup remove the workspace of a build
    // the daemon did not live to finish.
    const key = `${EXTRACT_KEY_PREFIX}build-${id}`;
    const ws = new Workspace(deps, key, dir, rootfs);
    try {
      const mounts = await deps.snapshotter.prepare(key, image?.topChainID);
      await mountAll(mounts, rootfs);
      ws.mounted = true;
      ws.forgetExitHook = lazyUnmountOnExit(rootfs);
    } catch (err) {
      await ws.remove();
      throw err;
    }
    return ws;
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    await unmount(this.rootfs);
    this.mounted = false;
    this.forgetExitHook();
  }

  /** The step's changes as a layer tar, or undefined when it changed nothing (an empty layer). */
  async layer(): Promise<Readable | undefined> {
    await this.unmount();
    return stepLayer(this.deps.snapshotter, this.key);
  }

  async remove(): Promise<void> {
    try {
      await this.unmount();
    } catch {
      await unmount(this.rootfs, { lazy: true }).catch(() => undefined);
    }
    await this.deps.snapshotter.remove(this.key).catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
