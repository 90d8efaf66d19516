// How much CPU the daemon has wanted: the time its threads ran plus the time they were runnable
// but waited for a core (the scheduler's run-queue delay). A pull that waits on its sockets while
// the daemon wants a core or more is short of CPU, not of network: its own threads (or the
// registry's, on the same machine) are too slow to deliver the bytes, and fetching ahead into a
// scratch file would only add writes and reads on the cores that are already the limit.
import fs from 'node:fs';

/** Milliseconds of CPU wanted since some fixed origin (only differences mean anything). */
export type CpuDemand = () => number;

const TASKS = '/proc/self/task';

/** Run-queue delay of the live threads, in ms (0 where the kernel keeps no schedstat). */
function runQueueWaitMs(): number {
  let ns = 0;
  let tasks: string[];
  try {
    tasks = fs.readdirSync(TASKS);
  } catch {
    return 0;
  }
  for (const t of tasks) {
    try {
      // "<ns on cpu> <ns waiting on a run queue> <timeslices>"
      ns += Number(fs.readFileSync(`${TASKS}/${t}/schedstat`, 'latin1').split(' ')[1]) || 0;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return ns / 1e6;
}

/** The daemon's CPU demand: user and system time of every thread, plus their run-queue delay. */
export const daemonCpuDemand: CpuDemand = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000 + runQueueWaitMs();
};

/**
 * Whether the daemon was short of CPU over `elapsedMs`: it wanted more than one core all along.
 * Two layers unpacking from fast sockets want about two; unpacking that starves for bytes from
 * a slow registry wants a fraction of one.
 */
export function cpuIsTheLimit(demandMs: number, elapsedMs: number): boolean {
  return demandMs > elapsedMs;
}
