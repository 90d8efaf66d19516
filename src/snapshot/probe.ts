// Can overlay2 run here? Docker's answer, by experiment: the backing filesystem must report
// d_type, and an overlay mount with an upper dir must actually work on it (it does not on
// overlayfs itself, on some network filesystems, or without the kernel module). The same
// experiment through the fuse-overlayfs program says whether that driver can stand in.
import { access, constants, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mountAll, mountsUnder, unmount } from '../mount/kernel.js';
import { MNT_DETACH, mount, umount2 } from '../native/syscalls.js';
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
  return tryOverlayMount(
    dir,
    'overlay',
    (msg) => `overlay2: cannot mount overlayfs on the backing ${fsName} filesystem: ${msg}`,
  );
}

/** Whether the fuse-overlayfs program is installed and can mount an overlay with an upper dir under `dir`. */
export async function probeFuseOverlay(dir: string): Promise<OverlayProbe> {
  await mkdir(dir, { recursive: true, mode: 0o710 });
  await sweepStaleProbes(dir);
  if (!(await onPath('fuse-overlayfs'))) {
    return { ok: false, reason: 'fuse-overlayfs: exec: "fuse-overlayfs": executable file not found in $PATH' };
  }
  const fsName = await backingFsName(dir);
  return tryOverlayMount(
    dir,
    'fuse-overlayfs',
    (msg) => `fuse-overlayfs: cannot mount on the backing ${fsName} filesystem: ${msg}`,
  );
}

async function onPath(program: string): Promise<boolean> {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (!d) continue;
    try {
      await access(path.join(d, program), constants.X_OK);
      return true;
    } catch {
      /* not here */
    }
  }
  return false;
}

/** Mounts a lower with a file and an upper, reads the file through it and writes it back (a copy-up). */
async function tryOverlayMount(
  dir: string,
  type: 'overlay' | 'fuse-overlayfs',
  reason: (msg: string) => string,
): Promise<OverlayProbe> {
  const tmp = await mkdtemp(path.join(dir, PROBE_PREFIX));
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => path.join(tmp, n));
  try {
    for (const d of [lower, upper, work, merged]) await mkdir(d);
    await writeFile(path.join(lower, 'f'), 'lower');
    const options = [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`];
    const unmountProbe = await mountProbe(type, options, merged);
    try {
      if ((await readFile(path.join(merged, 'f'), 'utf8')) !== 'lower')
        throw new Error('lower file not visible through the overlay');
      await writeFile(path.join(merged, 'f'), 'upper');
      if ((await readFile(path.join(upper, 'f'), 'utf8')) !== 'upper')
        throw new Error('copy-up did not reach the upper dir');
    } finally {
      await unmountProbe();
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: reason((err as Error).message) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The kernel's overlay is mounted and unmounted by the syscalls themselves: mount(8) and
 * umount(8) each cost a process, most of the probe's time and a good part of a cold start's.
 * The probe's overlay is `volatile` (Linux 5.10 and later; without it, as before): unmounting
 * an overlay otherwise syncs its whole upper filesystem, the data-root's, which waited for a
 * journal commit of everything written there (2 ms to over 150 ms of every start on a busy
 * ext4); the probe's files are deleted right after, so nothing of them needs to reach the disk.
 * A data-root so long that the options pass a page goes through mount(8), which can shorten them.
 */
async function mountProbe(
  type: 'overlay' | 'fuse-overlayfs',
  options: string[],
  merged: string,
): Promise<() => Promise<void>> {
  const data = ['index=off', ...options].join(',');
  if (type === 'overlay' && Buffer.byteLength(data) < 4096 - 256) {
    try {
      mount('overlay', merged, 'overlay', 0, `volatile,${data}`);
    } catch {
      mount('overlay', merged, 'overlay', 0, data);
    }
    return async () => {
      try {
        umount2(merged);
      } catch {
        umount2(merged, MNT_DETACH);
      }
    };
  }
  await mountAll([{ type, source: type, options: type === 'overlay' ? ['index=off', ...options] : options }], merged);
  return () => unmount(merged);
}

/** A probe interrupted by a crash leaves its dir behind; never delete through a live mount. */
async function sweepStaleProbes(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!name.startsWith(PROBE_PREFIX)) continue;
    const p = path.join(dir, name);
    if ((await mountsUnder(p)).length === 0) await rm(p, { recursive: true, force: true });
  }
}
