// Consistency of a volume that running containers write to. A backup read while an
// application writes is a mix of two moments (a SQLite page from before, its WAL from after).
// Strata freezes the running containers that use the volume for the duration of the read,
// as `docker pause` does: the cgroup freezer stops every process between two instructions,
// so what is on disk is one moment of the application's life. How a container is frozen is a
// ContainerFreezer: the daemon's goes through the container service's pause/unpause; the other
// freezes the container's own cgroup directly (found from its init pid, and only when the
// cgroup path names the container), for a container service that has no pause.
// Copying the volume aside first (a reflink snapshot) would shorten the freeze on btrfs/xfs,
// but a copy is itself read over time, so it needs the same freeze; on ext4 it would double
// the I/O. When neither way of freezing is available the operation is refused unless forced.
import fs from 'node:fs';
import path from 'node:path';
import { Conflict } from '../errors.js';
import type { ContainerRecord, ContainerService } from '../container/types.js';
import type { ContainerLifecycle } from '../container/backend.js';
import type { Logger } from '../util/log.js';

export interface ContainerFreezer {
  /** Freezes a running container and returns how to thaw it, or undefined when it cannot be frozen. */
  freeze(c: ContainerRecord): Promise<(() => Promise<void>) | undefined>;
}

/** Freezing as `docker pause` does, through the container service. */
export function pauseFreezer(containers: Pick<ContainerLifecycle, 'pause' | 'unpause'>): ContainerFreezer {
  return {
    async freeze(c) {
      await containers.pause(c.id);
      return () => containers.unpause(c.id);
    },
  };
}

/** Freezing the container's cgroup directly: v1 freezer.state or v2 cgroup.freeze. */
export const cgroupFreezer: ContainerFreezer = {
  async freeze(c) {
    const fz = c.state.Pid > 0 ? freezerOf(c.state.Pid, c.id) : undefined;
    if (!fz) return undefined;
    const thaw = async () => {
      fs.writeFileSync(fz.file, fz.thawed);
    };
    fs.writeFileSync(fz.file, fz.frozen);
    try {
      await waitFrozen(fz.file, fz.frozen);
    } catch (err) {
      await thaw();
      throw err;
    }
    return thaw;
  },
};

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The freezer control file of a container's cgroup (v1 freezer, else v2 cgroup.freeze), or undefined. */
export function freezerOf(
  pid: number,
  containerId: string,
): { file: string; frozen: string; thawed: string } | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  } catch {
    return undefined;
  }
  for (const line of lines) {
    const [, ctrls, cg] = line.split(':');
    if (!cg || !cg.includes(containerId)) continue;
    if (ctrls!.split(',').includes('freezer')) {
      const file = path.join(CGROUP_ROOT, 'freezer', cg, 'freezer.state');
      if (fs.existsSync(file)) return { file, frozen: 'FROZEN', thawed: 'THAWED' };
    }
  }
  for (const line of lines) {
    const [hier, , cg] = line.split(':');
    if (hier !== '0' || !cg || !cg.includes(containerId)) continue;
    for (const base of [path.join(CGROUP_ROOT, 'unified'), CGROUP_ROOT]) {
      const file = path.join(base, cg, 'cgroup.freeze');
      if (fs.existsSync(file)) return { file, frozen: '1', thawed: '0' };
    }
  }
  return undefined;
}

async function waitFrozen(file: string, frozen: string): Promise<void> {
  // v1 reports FREEZING until every task stopped; v2 reports it in cgroup.events.
  for (let i = 0; i < 200; i++) {
    if (file.endsWith('freezer.state')) {
      if (fs.readFileSync(file, 'utf8').trim() === frozen) return;
    } else {
      const events = fs.readFileSync(path.join(path.dirname(file), 'cgroup.events'), 'utf8');
      if (/^frozen 1$/m.test(events)) return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`cgroup ${path.dirname(file)} did not freeze`);
}

export interface FreezeOptions {
  /** Go ahead unfrozen when the containers cannot be frozen (the copy may mix two moments). */
  force?: boolean;
  /** Verb for messages: backup, export, clone. */
  action: string;
}

/** Runs `fn` while every running container in `userIds` is frozen. */
export async function withFrozenUsers<T>(
  containers: Pick<ContainerService, 'get'>,
  freezer: ContainerFreezer,
  userIds: string[],
  volume: string,
  opts: FreezeOptions,
  log: Logger | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const running: ContainerRecord[] = [];
  for (const id of userIds) {
    const c = await containers.get(id).catch(() => undefined);
    if (c && c.state.Running && c.state.Status !== 'paused') running.push(c);
  }
  if (running.length === 0) return fn();

  const thaws: (() => Promise<void>)[] = [];
  let unfrozen: string[] = [];
  try {
    for (const c of running) {
      const thaw = await freezer.freeze(c);
      if (thaw) thaws.push(thaw);
      else unfrozen.push(c.id);
    }
    if (unfrozen.length > 0) {
      if (!opts.force) {
        throw new Conflict(
          `${opts.action} ${volume}: volume is in use by running containers that cannot be frozen - [${unfrozen.join(', ')}]: stop them or force`,
        );
      }
      log?.warn(
        `${opts.action} ${volume}: containers ${unfrozen.join(', ')} keep running; the copy may mix two moments`,
      );
    }
    return await fn();
  } finally {
    for (const thaw of thaws.reverse())
      await thaw().catch((e: unknown) => log?.error(`thawing a container after ${opts.action}: ${e}`));
    unfrozen = [];
  }
}
