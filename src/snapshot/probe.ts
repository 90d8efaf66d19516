// Can overlay2 run here? Docker's answer, by experiment: the backing filesystem must report
// d_type, and an overlay mount with an upper dir must actually work on it (it does not on
// overlayfs itself, on some network filesystems, or without the kernel module).
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mountAll, mountsUnder, unmount } from '../mount/kernel.js';
import { backingFsName, supportsDType } from './fstype.js';

const PROBE_PREFIX = 'overlay-probe-';

export interface OverlayProbe {
  ok: boolean;
  /** Why not, in Docker's words. */
  reason?: string;
}

/** Probes in a temp dir under `dir` (the snapshots directory), removed afterwards. */
export async function probeOverlay(dir: string): Promise<OverlayProbe> {
  await mkdir(dir, { recursive: true, mode: 0o710 });
  await sweepStaleProbes(dir);
  const fsName = await backingFsName(dir);
  if (!(await supportsDType(dir))) {
    return {
      ok: false,
      reason: `overlay2: the backing ${fsName} filesystem is formatted without d_type support, which leads to incorrect behavior. Reformat the filesystem with ftype=1 to enable d_type support. Backing filesystems without d_type support are not supported.`,
    };
  }
  const tmp = await mkdtemp(path.join(dir, PROBE_PREFIX));
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => path.join(tmp, n));
  try {
    for (const d of [lower, upper, work, merged]) await mkdir(d);
    await writeFile(path.join(lower, 'f'), 'lower');
    await mountAll(
      [
        {
          type: 'overlay',
          source: 'overlay',
          options: ['index=off', `lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`],
        },
      ],
      merged,
    );
    try {
      if ((await readFile(path.join(merged, 'f'), 'utf8')) !== 'lower')
        throw new Error('lower file not visible through the overlay');
      await writeFile(path.join(merged, 'f'), 'upper');
      if ((await readFile(path.join(upper, 'f'), 'utf8')) !== 'upper')
        throw new Error('copy-up did not reach the upper dir');
    } finally {
      await unmount(merged);
    }
    return { ok: true };
  } catch (err) {
    return {
      ok: false,
      reason: `overlay2: cannot mount overlayfs on the backing ${fsName} filesystem: ${(err as Error).message}`,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A probe interrupted by a crash leaves its dir behind; never delete through a live mount. */
async function sweepStaleProbes(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!name.startsWith(PROBE_PREFIX)) continue;
    const p = path.join(dir, name);
    if ((await mountsUnder(p)).length === 0) await rm(p, { recursive: true, force: true });
  }
}
