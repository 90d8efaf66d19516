// --volumes-from NAME[:ro|rw]: the other container's volume and bind mounts, at the same
// places, read-only or read-write as asked, else as they are there. The container's own
// mounts win at the same destination (moby registers volumes-from first, then binds).
import { InvalidParameter, isNotFound, messageOf } from '../errors.js';
import type { MountSpec } from '../mount/spec-types.js';
import type { ContainerStore } from './store.js';

export function mountsFromContainers(
  store: ContainerStore,
  volumesFrom: string[] | null | undefined,
  own: MountSpec[],
): MountSpec[] {
  const out: MountSpec[] = [];
  for (const entry of volumesFrom ?? []) {
    const [ref, mode, extra] = entry.split(':');
    if (!ref || extra !== undefined) throw new InvalidParameter(`invalid volumes-from spec: ${entry}`);
    if (mode !== undefined && mode !== 'ro' && mode !== 'rw')
      throw new InvalidParameter(`invalid mode for volumes-from: ${mode}`);
    // dockerd answers a missing source with 400, not 404: the request is what is wrong.
    let source;
    try {
      source = store.get(ref);
    } catch (err) {
      if (isNotFound(err)) throw new InvalidParameter(messageOf(err), { cause: err });
      throw err;
    }
    for (const m of source.mounts) {
      if (m.type !== 'volume' && m.type !== 'bind') continue;
      if (own.some((o) => o.destination === m.destination) || out.some((o) => o.destination === m.destination))
        continue;
      const readOnly = mode === undefined ? m.readOnly : mode === 'ro';
      // The volume is already there (and filled, if it was going to be): never copy into it again.
      out.push({ ...m, readOnly, mode: mode ?? m.mode, noCopy: true, createHostPath: false });
    }
  }
  return out;
}
