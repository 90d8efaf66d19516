// What the container room's parts share: dependencies, the store, and each container's live
// (in-memory) state. Only service.ts builds it.
import path from 'node:path';
import type { ContainerRuntime, RuntimeProcess } from '../runtime/types.js';
import type { ContainerStore } from './store.js';
import type { ContainerServiceDeps } from './deps.js';
import type { ContainerRecord } from './types.js';
import type { Incomplete } from '../meta/incomplete.js';
import type { ProjectIds } from '../system/project-ids.js';
import { StreamHub } from './stream-hub.js';
import type { HealthHandle } from './health-config.js';

/** The snapshot key of a container's writable layer (the usage cache keys sizes by it too). */
export const snapshotKeyOf = (containerId: string): string => `container-${containerId}`;
import { ContainerLog } from './log-file.js';
import { logTargetOf } from './log-target.js';

export interface Live {
  hub: StreamHub;
  /** Follows the container's driver: start and `docker logs` point it at the driver's file. */
  log: ContainerLog;
  proc?: RuntimeProcess;
  /** Resolves when the current run has been cleaned up after its exit. */
  exited?: Promise<void>;
  /**
   * The run has exited and its exit was answered, but its mounts (rootfs, volumes, shm) are
   * still being undone: what judges mounts left over must leave them to the teardown.
   */
  tearingDown?: boolean;
  /** Volumes mounted for the current run. */
  volumes: string[];
  /** Set by stop/kill from the user: no restart policy applies to this exit. */
  stoppedByUser: boolean;
  /** Holds for the duration of remove. */
  removing: boolean;
  /** A user's restart is under way: the exit it causes is not the end of an AutoRemove container. */
  restartingByUser?: boolean;
  /** The removal an AutoRemove container's exit began (a stop waits for it, as `docker stop` finds it gone). */
  autoRemoval?: Promise<void>;
  exitWaiters: ((code: number) => void)[];
  removeWaiters: ((code: number) => void)[];
  /** How many users (a run, docker cp) have the rootfs mounted. */
  rootfsRefs: number;
  /**
   * The mount (or unmount) of the rootfs in progress: a second user arriving while the first is
   * still mounting waits for it instead of reading the empty directory underneath.
   */
  rootfsSettled?: Promise<void>;
  lock: Promise<unknown>;
  /** Legacy link variables of the current run (exec processes get them too, as in Docker). */
  linkEnv?: string[];
  /** The healthcheck monitor of the current run. */
  health?: HealthHandle;
}

/** The service's dependencies plus its own runtime state, shared by the container room's files. */
export interface Ctx extends ContainerServiceDeps {
  runtime: ContainerRuntime;
  store: ContainerStore;
  /** Marks of creates and removals under way (rolled back or finished at startup). */
  incomplete: Incomplete;
  /** The data-root's project IDs, for `--storage-opt size` on overlay2 over xfs or ext4. */
  projectIds: ProjectIds;
  live: Map<string, Live>;
  shuttingDown: boolean;
}

export const containerDir = (ctx: Ctx, id: string) => path.join(ctx.dataRoot, 'containers', id);
export const bundleDir = (ctx: Ctx, id: string) => path.join(ctx.execRoot, 'containers', id);

export function liveOf(ctx: Ctx, id: string): Live {
  let l = ctx.live.get(id);
  if (!l) {
    l = {
      hub: new StreamHub(),
      log: new ContainerLog(logTargetOf(containerDir(ctx, id), id, undefined)),
      volumes: [],
      stoppedByUser: false,
      removing: false,
      exitWaiters: [],
      removeWaiters: [],
      rootfsRefs: 0,
      lock: Promise.resolve(),
    };
    ctx.live.set(id, l);
  }
  return l;
}

/** Serialises lifecycle operations on one container (start/stop/rm never interleave). */
export function withLock<T>(ctx: Ctx, id: string, fn: () => Promise<T>): Promise<T> {
  const l = liveOf(ctx, id);
  const next = l.lock.then(fn, fn);
  l.lock = next.catch(() => undefined);
  return next;
}

export function emit(ctx: Ctx, action: string, rec: ContainerRecord, extra: Record<string, string> = {}): void {
  ctx.events.emitEvent('container', action, rec.id, {
    ...(rec.config.Labels ?? {}),
    image: rec.imageRef,
    name: rec.name,
    ...extra,
  });
}

export const nowIso = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
export const ZERO_TIME = '0001-01-01T00:00:00Z';
