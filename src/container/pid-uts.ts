// --pid and --uts (HostConfig.PidMode / UTSMode), as dockerd 20.10 treats them (runconfig
// hostconfig_unix.go, daemon/oci_linux.go WithNamespaces, container_operations_unix.go).
// "host" keeps the host's namespace; PidMode "container:<id>" enters that container's PID
// namespace through its init's /proc/<pid>/ns/pid. Every other value, unknown ones included,
// is a namespace of the container's own: the daemon refuses none of them (the CLI does).
import { InvalidParameter, SystemError } from '../errors.js';
import type { SpecInput } from '../runtime/oci-spec.js';
import type { Ctx } from './context.js';
import type { ContainerRecord } from './types.js';

/** What the OCI spec gets: the PID namespace (a new one when absent) and whether the UTS one is the host's. */
export type PidUtsSetup = Pick<SpecInput, 'pidNamespace' | 'hostUts'>;

const donorOf = (mode: string): string | undefined => (mode.startsWith('container:') ? mode.slice(10) : undefined);

/**
 * The create-time checks: a hostname with the host's UTS namespace is refused as dockerd's config
 * decoder refuses it, and the donor of `container:<name>` is looked up and stored by its full ID
 * (a donor that does not exist is a 400; an empty name waits for start to be refused).
 */
export function checkPidUts(ctx: Ctx, config: Record<string, any>, hc: Record<string, any>): void {
  if (hc.UTSMode === 'host' && config.Hostname) {
    throw new InvalidParameter('conflicting options: hostname and the UTS mode');
  }
  const ref = donorOf(String(hc.PidMode ?? ''));
  if (!ref) return;
  const donor = ctx.store.find(ref);
  if (!donor) throw new InvalidParameter(`No such container: ${ref}`);
  hc.PidMode = `container:${donor.id}`;
}

/** The namespaces of a starting container, the donor refused in dockerd's words (getPidContainer). */
export function pidUtsOf(ctx: Ctx, rec: ContainerRecord): PidUtsSetup {
  const hostUts = rec.hostConfig.UTSMode === 'host';
  const mode = String(rec.hostConfig.PidMode ?? '');
  const ref = donorOf(mode);
  if (ref !== undefined) return { pidNamespace: { path: `/proc/${donorPid(ctx, ref)}/ns/pid` }, hostUts };
  return mode === 'host' ? { pidNamespace: { host: true }, hostUts } : { hostUts };
}

function donorPid(ctx: Ctx, ref: string): number {
  const lookup = (why: string) => new SystemError(`cannot join PID of a non running container: ${ref}: ${why}`);
  if (!ref) throw lookup('invalid name or ID supplied: ""');
  const donor = ctx.store.find(ref);
  if (!donor) throw lookup(`No such container: ${ref}`);
  if (!donor.state.Running || !donor.state.Pid) throw new SystemError(`container ${donor.id} is not running`);
  if (donor.state.Status === 'restarting') {
    throw new SystemError(`container ${donor.id} is restarting, wait until the container is running`);
  }
  return donor.state.Pid;
}
