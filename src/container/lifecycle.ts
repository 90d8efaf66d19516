// docker start and restart as the API asks for them: the checks around a start (marked for
// removal, already running, daemon shutting down), the healthcheck monitor of the new run, and
// what the run's exit drives — removal of an AutoRemove container or a restart by policy.
// start.ts does the start itself; this file decides when one may happen and what follows it.
import { Conflict, NotFound, NotModified, Unavailable } from '../errors.js';
import type { ContainerRecord } from './types.js';
import { emit, liveOf, withLock, type Ctx, type Live } from './context.js';
import type { ExecStore } from './exec.js';
import { shouldRestart, startContainer } from './start.js';
import { startHealthMonitor } from './health.js';
import { removeContainer } from './remove.js';
import { stopRunning } from './stop.js';

export async function startByRef(ctx: Ctx, execs: ExecStore, ref: string): Promise<void> {
  const rec = ctx.store.get(ref);
  const markedForRemoval = () => {
    const live = liveOf(ctx, rec.id);
    if (live.removing || awaitsAutoRemoval(ctx, rec, live)) {
      throw new Conflict(`container is marked for removal and cannot be started`);
    }
  };
  // Checked before the lock too: a removal holds it throughout, and dockerd answers at once.
  markedForRemoval();
  await withLock(ctx, rec.id, async () => {
    // Removed while this start waited for the lock (an AutoRemove exit got there first).
    if (!ctx.store.all().some((c) => c.id === rec.id)) {
      throw new NotFound(`No such container: ${ref}`);
    }
    markedForRemoval();
    const live = liveOf(ctx, rec.id);
    if (rec.state.Running) throw new NotModified('container already started');
    if (ctx.shuttingDown) throw new Unavailable('the daemon is shutting down');
    try {
      await startContainer(ctx, rec);
    } catch (err) {
      // Docker removes an AutoRemove container that failed to start: `docker run --rm` waits for that.
      if (rec.hostConfig.AutoRemove) {
        setImmediate(
          () => void removeContainer(ctx, execs, rec.id, { force: true, volumes: true }).catch(() => undefined),
        );
      }
      throw err;
    }
    live.health = startHealthMonitor(ctx, execs, rec);
    void live.exited?.then(() => afterExit(ctx, execs, rec));
  });
}

async function afterExit(ctx: Ctx, execs: ExecStore, rec: ContainerRecord): Promise<void> {
  const live = liveOf(ctx, rec.id);
  if (rec.hostConfig.AutoRemove && !live.removing && !live.restartingByUser && !ctx.shuttingDown) {
    live.autoRemoval = removeContainer(ctx, execs, rec.id, { force: true, volumes: true }).catch((e: unknown) =>
      ctx.log.warn(`auto-remove ${rec.id}: ${e}`),
    );
    await live.autoRemoval;
    return;
  }
  if (shouldRestart(ctx, rec, live)) {
    rec.restartCount = (rec.restartCount ?? 0) + 1;
    await startByRef(ctx, execs, rec.id).catch((e: unknown) => ctx.log.warn(`restart ${rec.id}: ${e}`));
  }
}

/** An AutoRemove container that has run and exited is on its way out: dockerd refuses to start it. */
function awaitsAutoRemoval(ctx: Ctx, rec: ContainerRecord, live: Live): boolean {
  return !!rec.hostConfig.AutoRemove && rec.state.Status === 'exited' && !live.restartingByUser && !ctx.shuttingDown;
}

export async function restartContainer(ctx: Ctx, execs: ExecStore, ref: string, timeout?: number): Promise<void> {
  const rec = ctx.store.get(ref);
  const live = liveOf(ctx, rec.id);
  // dockerd keeps an AutoRemove container through a restart: its stop is not the end of it.
  live.restartingByUser = true;
  try {
    await withLock(ctx, rec.id, async () => {
      if (rec.state.Running) await stopRunning(ctx, rec, timeout);
    });
    await startByRef(ctx, execs, rec.id);
  } finally {
    live.restartingByUser = false;
  }
  rec.restartCount = rec.restartCount ?? 0;
  emit(ctx, 'restart', rec);
}
