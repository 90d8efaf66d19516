// docker update: new CPU, memory, pids and block I/O limits and restart policy, stored in the
// HostConfig and, for a running container, applied to its cgroup through the runtime (runc
// update). Only the fields the request sets change (Docker's UpdateContainer); a refused
// request changes nothing.
import { InvalidParameter } from '../errors.js';
import type { Ctx } from './context.js';
import { emit, withLock } from './context.js';
import { ociResources } from './resources.js';
import type { ContainerRecord } from './types.js';

const NUMERIC = [
  'BlkioWeight',
  'CpuShares',
  'CpuPeriod',
  'CpuQuota',
  'CpuRealtimePeriod',
  'CpuRealtimeRuntime',
  'Memory',
  'MemoryReservation',
  'MemorySwap',
  'KernelMemory',
  'NanoCpus',
] as const;
const STRINGS = ['CpusetCpus', 'CpusetMems'] as const;
const POLICIES = ['', 'no', 'always', 'unless-stopped', 'on-failure'];
const MIN_MEMORY = 6 * 1024 * 1024;

export interface UpdateBody extends Record<string, unknown> {
  RestartPolicy?: { Name?: string; MaximumRetryCount?: number };
  PidsLimit?: number | null;
}

export async function updateContainer(ctx: Ctx, rec: ContainerRecord, body: UpdateBody): Promise<string[]> {
  return withLock(ctx, rec.id, async () => {
    const hc = rec.hostConfig;
    const change: Record<string, unknown> = {};
    for (const k of NUMERIC) {
      const v = body[k];
      if (v === undefined || v === null || v === 0) continue;
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new InvalidParameter(`invalid ${k}: ${JSON.stringify(v)}`);
      change[k] = v;
    }
    for (const k of STRINGS) if (typeof body[k] === 'string' && body[k] !== '') change[k] = body[k];
    if (typeof body.PidsLimit === 'number') change.PidsLimit = body.PidsLimit;
    validate(hc, change as Record<string, number>);
    const policy = body.RestartPolicy;
    if (policy && (policy.Name ?? '') !== '') {
      if (!POLICIES.includes(policy.Name!)) throw new InvalidParameter(`invalid restart policy '${policy.Name}'`);
      if (hc.AutoRemove && policy.Name !== 'no')
        throw new InvalidParameter('Restart policy cannot be updated because AutoRemove is enabled for the container');
      if (policy.Name !== 'on-failure' && (policy.MaximumRetryCount ?? 0) > 0) {
        throw new InvalidParameter(`maximum retry count cannot be used with restart policy '${policy.Name}'`);
      }
    }
    if (rec.state.Running && Object.keys(change).length) {
      const resources = ociResources({ ...change, PidsLimit: undefined }).resources ?? {};
      // pids.limit -1 is "max": an update to 0 or below lifts the limit.
      if (typeof change.PidsLimit === 'number')
        resources.pids = { limit: (change.PidsLimit as number) > 0 ? change.PidsLimit : -1 };
      if (change.NanoCpus) (resources.cpu as Record<string, unknown>).period = 100000;
      await ctx.runtime.update(rec.id, resources).catch((e: unknown) => {
        throw new InvalidParameter(`Cannot update container ${rec.id}: ${(e as Error).message}`);
      });
    }
    Object.assign(hc, change);
    if (typeof change.PidsLimit === 'number' && (change.PidsLimit as number) <= 0) hc.PidsLimit = null;
    if (policy && (policy.Name ?? '') !== '')
      hc.RestartPolicy = { Name: policy.Name, MaximumRetryCount: policy.MaximumRetryCount ?? 0 };
    ctx.store.save(rec);
    emit(ctx, 'update', rec);
    return [];
  });
}

/** Docker's checks (verifyContainerResources and update.go) on the merged limits. */
function validate(hc: Record<string, any>, change: Record<string, number>): void {
  const memory = change.Memory ?? hc.Memory ?? 0;
  const swap = change.MemorySwap ?? hc.MemorySwap ?? 0;
  if (change.Memory !== undefined && change.Memory < MIN_MEMORY)
    throw new InvalidParameter('Minimum memory limit allowed is 6MB');
  if (change.Memory && !change.MemorySwap && hc.MemorySwap > 0 && change.Memory > hc.MemorySwap) {
    throw new InvalidParameter(
      'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time',
    );
  }
  if (memory > 0 && swap > 0 && swap < memory)
    throw new InvalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (change.NanoCpus && (hc.CpuQuota > 0 || change.CpuQuota))
    throw new InvalidParameter('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  if (change.CpuQuota && hc.NanoCpus > 0)
    throw new InvalidParameter('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  if (change.CpuShares !== undefined && change.CpuShares < 0) throw new InvalidParameter('invalid CPU shares');
  if (change.BlkioWeight !== undefined && (change.BlkioWeight < 10 || change.BlkioWeight > 1000)) {
    throw new InvalidParameter('Range of blkio weight is from 10 to 1000');
  }
}
