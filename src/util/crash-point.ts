// Named points where a crash-recovery test kills the daemon: with STRATA_CRASH_AT set to a
// point's name, the process sends itself SIGKILL when it gets there, so the test sees exactly
// what a crash between two steps leaves. Unset (always, outside tests), a point does nothing.

/** SIGKILLs this process if STRATA_CRASH_AT names `point`. */
export function crashPoint(point: string): void {
  if (process.env.STRATA_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
