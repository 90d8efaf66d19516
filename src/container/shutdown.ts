// Containers do not outlive the daemon (Docker without live-restore behaves the same): at
// shutdown every running container is stopped within its own stop timeout, and a shutdown that
// takes too long can name what is left and kill it at once. Starts are refused from the first
// call on, so a restart or a restart policy racing the shutdown cannot leave a container running
// (and its rootfs mounted) behind the daemon.
import type { ContainerRecord } from './types.js';
import type { Ctx } from './context.js';
import { stopRunning } from './stop.js';

/**
 * Stops every running container, each within its own stop timeout as Docker does; one that
 * waits forever (-1) gets the default, so that shutdown is always bounded.
 */
export async function shutdownContainers(ctx: Ctx): Promise<void> {
  ctx.shuttingDown = true;
  for (let pass = 0; pass < 3; pass++) {
    const running = runningNow(ctx);
    if (running.length === 0) return;
    await Promise.all(
      running.map((c) =>
        stopRunning(ctx, c, shutdownTimeoutOf(c)).catch((e: unknown) => {
          ctx.log.warn(`shutdown: stop ${c.id}: ${e}`);
        }),
      ),
    );
  }
}

/** The longest time shutdownContainers() may wait for a container, in seconds. */
export function shutdownSeconds(ctx: Ctx): number {
  return Math.max(0, ...runningNow(ctx).map(shutdownTimeoutOf));
}

/** Names of the containers that still have a process (for a shutdown that takes too long). */
export function stillRunning(ctx: Ctx): string[] {
  return runningNow(ctx).map((c) => c.name.replace(/^\//, ''));
}

/**
 * A forced shutdown: SIGKILL to every container's init, now and without waiting. Killing the
 * init of a PID namespace kills every process in it, exec'd ones included.
 */
export function killAllNow(ctx: Ctx): void {
  for (const c of runningNow(ctx)) {
    const pid = ctx.live.get(c.id)?.proc?.pid;
    if (pid)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
  }
}

function runningNow(ctx: Ctx): ContainerRecord[] {
  return ctx.store.all().filter((c) => c.state.Running || ctx.live.get(c.id)?.proc);
}

/** Seconds shutdown gives a container: its own stop timeout, the default when it has none or waits forever. */
function shutdownTimeoutOf(rec: ContainerRecord): number {
  const t = rec.config.StopTimeout;
  return typeof t === 'number' && t >= 0 ? t : 10;
}
