// Stopping and signalling a running container: stop (the stop signal, then SIGKILL after the
// timeout), kill, pause and unpause. Apart from the service so that start/restart, removal and
// daemon shutdown share one way of ending a run.
import { Conflict, NotModified } from '../errors.js';
import type { ContainerRecord } from './types.js';
import { emit, liveOf, withLock, type Ctx } from './context.js';
import { checkSignalForPlatform, normalizeSignal, parseSignal, signalNumber } from './signals.js';

/** Sends the stop signal, then SIGKILL after `timeout` seconds; 304 when not running. */
export async function stopContainer(ctx: Ctx, ref: string, timeout?: number, signal?: string): Promise<void> {
  const rec = ctx.store.get(ref);
  const live = liveOf(ctx, rec.id);
  await withLock(ctx, rec.id, async () => {
    if (!rec.state.Running) throw new NotModified('container already stopped');
    await stopRunning(ctx, rec, timeout, signal);
  });
  // After `docker stop` of an AutoRemove container the container is gone, as with dockerd, whose
  // removal runs as the exit is handled; a kill returns without waiting for it, as dockerd's does.
  await live.autoRemoval;
}

/** Ends the current run; the caller holds the container's lock (or the daemon is shutting down). */
export async function stopRunning(ctx: Ctx, rec: ContainerRecord, timeout?: number, signal?: string): Promise<void> {
  const live = liveOf(ctx, rec.id);
  if (!live.proc) return;
  await thaw(ctx, rec);
  live.stoppedByUser = true;
  const exited = live.exited ?? Promise.resolve();
  const secs = timeout ?? rec.config.StopTimeout ?? 10;
  const sig = normalizeSignal(signal || rec.config.StopSignal || 'SIGTERM');
  const stopped = () => emit(ctx, 'stop', rec);
  if (secs !== 0) {
    emit(ctx, 'kill', rec, { signal: signalNumber(sig) });
    await ctx.runtime.kill(rec.id, sig).catch(() => undefined);
    if (secs < 0) {
      await exited;
      stopped();
      return;
    }
    const timedOut = await Promise.race([exited.then(() => false), sleep(secs * 1000).then(() => true)]);
    if (!timedOut) {
      stopped();
      return;
    }
  }
  emit(ctx, 'kill', rec, { signal: '9' });
  await ctx.runtime.kill(rec.id, 'SIGKILL', true).catch(() => {
    // runc no longer knows the container (its state is gone) but the process is ours: without
    // this the wait below would never end.
    const pid = live.proc?.pid;
    if (pid)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
  });
  await exited;
  stopped();
}

export async function killContainer(ctx: Ctx, ref: string, signal?: string): Promise<void> {
  // dockerd reads the signal before it looks the container up: a bad one is a 400 whatever the container.
  const num = signal ? parseSignal(signal) : 9;
  const rec = ctx.store.get(ref);
  if (!rec.state.Running) throw new Conflict(`Cannot kill container: ${ref}: Container ${rec.id} is not running`);
  checkSignalForPlatform(num, ref);
  const live = liveOf(ctx, rec.id);
  if (num === 9 || num === 15 || num === 2) live.stoppedByUser = true;
  await ctx.runtime.kill(rec.id, num === 9 ? 'SIGKILL' : String(num));
  emit(ctx, 'kill', rec, { signal: String(num) });
  if (num === 9) await live.exited;
}

export async function pauseContainer(ctx: Ctx, ref: string): Promise<void> {
  const rec = ctx.store.get(ref);
  await withLock(ctx, rec.id, async () => {
    if (!rec.state.Running) throw new Conflict(`Container ${rec.id} is not running`);
    if (rec.state.Status === 'paused') throw new Conflict(`Container ${rec.id} is already paused`);
    await ctx.runtime.pause(rec.id);
    rec.state.Status = 'paused';
    ctx.store.save(rec);
    emit(ctx, 'pause', rec);
  });
}

export async function unpauseContainer(ctx: Ctx, ref: string): Promise<void> {
  const rec = ctx.store.get(ref);
  await withLock(ctx, rec.id, async () => {
    if (rec.state.Status !== 'paused') throw new Conflict(`Container ${rec.id} is not paused`);
    await ctx.runtime.resume(rec.id);
    rec.state.Status = 'running';
    ctx.store.save(rec);
    emit(ctx, 'unpause', rec);
  });
}

/** A frozen container cannot act on a signal: thaw it first (Docker does the same for stop and rm -f). */
export async function thaw(ctx: Ctx, rec: ContainerRecord): Promise<void> {
  if (rec.state.Status !== 'paused') return;
  await ctx.runtime.resume(rec.id).catch(() => undefined);
  rec.state.Status = 'running';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
