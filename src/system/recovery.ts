// What the daemon does once at start, before and after the services are built, so that a
// daemon killed at any moment starts again and leaves nothing half-made:
//  - before anything else: every filesystem still mounted under the data-root's tmp/ or the
//    exec-root is detached (deepest first, lazily: no container survives the daemon, so none
//    needs them), then tmp/ and the exec-root's scratch (build/) are emptied without ever
//    descending into a mount;
//  - each room then recovers its own objects when its service is built (snapshot cleanup,
//    image sweep, volume recovery, container recovery: incomplete marks rolled back);
//  - last, references between rooms that point at nothing (a volume held by a container that
//    no longer exists) are dropped.
import path from 'node:path';
import type { Logger } from '../util/log.js';
import type { ContainerService } from '../container/types.js';
import type { VolumeService } from '../volume/types.js';
import { detachMountsBeneath, emptyDirNoCross } from '../mount/scratch.js';
import { networkNamespaceDir } from '../network/netns.js';

/** The scratch directories of the exec-root (runc's state and bundles are the container room's). */
const EXEC_SCRATCH = ['build'];

export async function sweepScratch(dataRoot: string, execRoot: string, log: Logger): Promise<void> {
  const tmp = path.join(dataRoot, 'tmp');
  for (const root of [tmp, execRoot]) {
    // Network namespaces are the network room's to tear down (netavark must enter them to
    // remove veths, firewall rules and DNS entries); it recovers them once it has started.
    const detached = await detachMountsBeneath(root, [networkNamespaceDir(execRoot)]);
    for (const m of detached) log.info(`startup: detached ${m}, left mounted by the previous run`);
  }
  const kept = [...emptyDirNoCross(tmp), ...EXEC_SCRATCH.flatMap((d) => emptyDirNoCross(path.join(execRoot, d)))];
  // Only a mount made after the detach (by someone else) can keep something: never a reason not to start.
  for (const k of kept) log.warn(`startup: ${k} is a mount point; left in place`);
}

export async function recoverReferences(engine: {
  volumes: Pick<VolumeService, 'list' | 'users' | 'release'>;
  containers: Pick<ContainerService, 'list'>;
  log: Logger;
}): Promise<void> {
  const containers = new Set((await engine.containers.list()).map((c) => c.id));
  for (const v of await engine.volumes.list()) {
    for (const user of engine.volumes.users(v.name)) {
      if (containers.has(user)) continue;
      engine.log.warn(`volume ${v.name}: dropping the reference of container ${user}, which does not exist`);
      engine.volumes.release(v.name, user);
    }
  }
}
