// --ipc (HostConfig.IpcMode): which IPC namespace a container gets and what it finds at /dev/shm,
// as dockerd 20.10 decides it (daemon/container_operations_unix.go setupIpcDirs, oci_linux.go).
// "private" and "none" get a new namespace, with a tmpfs of ShmSize at /dev/shm or nothing there;
// "host" keeps the host's namespace and binds the host's /dev/shm; "shareable" gets a new
// namespace and a tmpfs mounted on the host under the container's directory, which a
// "container:<id>" joiner binds while it enters the donor's namespace. The donor's tmpfs lives for
// one run of the donor: mounted at start, unmounted when it exits.
import fs from 'node:fs';
import path from 'node:path';
import { InvalidParameter, SystemError, messageOf } from '../errors.js';
import { isMountPoint, mountAll, unmount } from '../mount/kernel.js';
import type { OciMount, SpecInput } from '../runtime/oci-spec.js';
import { containerDir, type Ctx } from './context.js';
import type { ContainerRecord } from './types.js';

/** What the OCI spec gets: the IPC namespace (a new one when absent) and /dev/shm. */
export type IpcSetup = Pick<SpecInput, 'ipcNamespace' | 'shm'>;

const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** Where a shareable container's /dev/shm tmpfs is mounted on the host while it runs. */
export const shmPathOf = (ctx: Ctx, id: string): string => path.join(containerDir(ctx, id), 'mounts', 'shm');

const donorOf = (mode: string): string | undefined => (mode.startsWith('container:') ? mode.slice(10) : undefined);

/**
 * At create, dockerd looks up the donor of `container:<name>` and stores its full ID: a donor that
 * does not exist is a 400, while an empty name and any unknown mode wait for start to be refused.
 */
export function resolveIpcDonor(ctx: Ctx, hc: Record<string, any>): void {
  const ref = donorOf(String(hc.IpcMode ?? ''));
  if (!ref) return;
  const donor = ctx.store.find(ref);
  if (!donor) throw new InvalidParameter(`No such container: ${ref}`);
  hc.IpcMode = `container:${donor.id}`;
}

/** Settles the IPC namespace and /dev/shm of a starting container; a shareable one's tmpfs is mounted here. */
export async function setupIpc(ctx: Ctx, rec: ContainerRecord): Promise<IpcSetup> {
  const mode = String(rec.hostConfig.IpcMode ?? '');
  const ownShm = rec.mounts.some((m) => path.posix.normalize(m.destination) === '/dev/shm');
  const donorRef = donorOf(mode);
  if (donorRef !== undefined) {
    const donor = joinableDonor(ctx, donorRef);
    return { ipcNamespace: { path: `/proc/${donor.pid}/ns/ipc` }, shm: ownShm ? undefined : bindShm(donor.shmPath) };
  }
  switch (mode) {
    case 'host':
      if (!fs.existsSync('/dev/shm')) throw new SystemError('/dev/shm is not mounted, but must be for --ipc=host');
      return { ipcNamespace: { host: true }, shm: ownShm ? undefined : bindShm('/dev/shm') };
    case 'private':
      return {};
    case 'none':
      return ownShm ? {} : { shm: null };
    // A container stored without a mode predates the modes; "shareable" was the behaviour then.
    case '':
    case 'shareable': {
      if (ownShm) return {};
      const shmPath = shmPathOf(ctx, rec.id);
      await mountShareableShm(shmPath, Number(rec.hostConfig.ShmSize) || DEFAULT_SHM_SIZE);
      return { shm: bindShm(shmPath) };
    }
    default:
      throw new SystemError(`Invalid IPC mode: ${mode}`);
  }
}

/** Unmounts a shareable container's /dev/shm tmpfs (after its run, or leftover from a crash). */
export async function releaseIpc(ctx: Ctx, id: string): Promise<void> {
  const shmPath = shmPathOf(ctx, id);
  if (await isMountPoint(shmPath)) await unmount(shmPath, { lazy: true });
}

function bindShm(source: string): OciMount {
  return { destination: '/dev/shm', type: 'bind', source, options: ['rbind', 'rprivate'] };
}

async function mountShareableShm(shmPath: string, size: number): Promise<void> {
  // A run the daemon did not see end (a crash) may have left the previous tmpfs behind.
  if (await isMountPoint(shmPath)) await unmount(shmPath, { lazy: true });
  fs.mkdirSync(shmPath, { recursive: true, mode: 0o700 });
  try {
    await mountAll(
      [{ type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', `size=${size}`] }],
      shmPath,
    );
  } catch (err) {
    throw new SystemError(`mounting shm tmpfs: ${messageOf(err)}`, { cause: err });
  }
}

/** The running donor's init PID and shm directory, refused in dockerd's words (getIpcContainer). */
function joinableDonor(ctx: Ctx, ref: string): { pid: number; shmPath: string } {
  const fail = (why: string) => new SystemError(`can't join IPC of container ${ref}: ${why}`);
  if (!ref) throw fail('invalid name or ID supplied: ""');
  const donor = ctx.store.find(ref);
  if (!donor) throw fail(`No such container: ${ref}`);
  if (!donor.state.Running || !donor.state.Pid) throw fail(`container ${donor.id} is not running`);
  if (donor.state.Status === 'restarting') {
    throw fail(`container ${donor.id} is restarting, wait until the container is running`);
  }
  const shmPath = donorShmPath(ctx, donor, 0);
  if (!shmPath || !isDirectory(shmPath)) {
    throw fail('non-shareable IPC (hint: use IpcMode:shareable for the donor container)');
  }
  return { pid: donor.state.Pid, shmPath };
}

/** A donor's shm directory as dockerd's ShmPath: its own tmpfs, the host's, or its own donor's. */
function donorShmPath(ctx: Ctx, rec: ContainerRecord, depth: number): string | undefined {
  const mode = String(rec.hostConfig.IpcMode ?? '');
  if (rec.mounts.some((m) => path.posix.normalize(m.destination) === '/dev/shm')) return undefined;
  if (mode === 'shareable' || mode === '') return shmPathOf(ctx, rec.id);
  if (mode === 'host') return '/dev/shm';
  const next = donorOf(mode);
  const donor = next && depth < 8 ? ctx.store.find(next) : undefined;
  return donor ? donorShmPath(ctx, donor, depth + 1) : undefined;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
