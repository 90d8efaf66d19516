// Healthchecks, after Docker's daemon/health.go: a probe runs in the container through the
// exec machinery on the configured schedule, and its results drive State.Health (status,
// failing streak, the last five results) and `health_status: …` events. The monitor lives
// only while the container runs: it is started after start and stopped at its exit, so
// nothing is left running when the container or the daemon stops.
import type { Ctx } from './context.js';
import { emit, liveOf, nowIso } from './context.js';
import type { ExecStore } from './exec.js';
import type { ContainerRecord } from './types.js';
import {
  DEFAULT_INTERVAL,
  DEFAULT_RETRIES,
  DEFAULT_START_INTERVAL,
  DEFAULT_TIMEOUT,
  goDuration,
  MAX_LOG_ENTRIES,
  MAX_OUTPUT,
  MS,
  probeCommand,
  type HealthConfig,
  type HealthHandle,
  type HealthLogEntry,
} from './health-config.js';

/**
 * Starts the monitor of a container that just started: State.Health goes to `starting` (its log
 * kept, as Docker keeps it across restarts). Returns undefined when there is nothing to run.
 */
export function startHealthMonitor(ctx: Ctx, execs: ExecStore, rec: ContainerRecord): HealthHandle | undefined {
  const hc = rec.config.Healthcheck as HealthConfig | null | undefined;
  const cmd = probeCommand(hc, rec.config.Shell as string[] | null);
  if (!cmd) return undefined;
  const prev = rec.state.Health;
  rec.state.Health = { Status: 'starting', FailingStreak: 0, Log: prev?.Log ?? [] };
  ctx.store.save(rec);
  const interval = hc!.Interval || DEFAULT_INTERVAL;
  const timeout = hc!.Timeout || DEFAULT_TIMEOUT;
  const startPeriod = hc!.StartPeriod || 0;
  const startInterval = hc!.StartInterval || DEFAULT_START_INTERVAL;
  const retries = hc!.Retries || DEFAULT_RETRIES;
  const started = Date.parse(rec.state.StartedAt);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  // Within the start period, a container not yet healthy is probed at the start interval.
  const nextDelay = () => {
    if (!startPeriod || Date.now() - started >= startPeriod / MS) return interval / MS;
    return rec.state.Health?.Status === 'starting' ? startInterval / MS : interval / MS;
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void tick(), nextDelay());
    timer.unref();
  };
  const tick = async () => {
    if (stopped) return;
    if (rec.state.Status === 'paused' || !rec.state.Running) {
      schedule();
      return;
    }
    const result = await runProbe(execs, rec, cmd, timeout).catch((e: unknown) => ({
      Start: nowIso(),
      End: nowIso(),
      ExitCode: -1,
      Output: e instanceof Error ? e.message : String(e),
    }));
    if (stopped || !rec.state.Health) return;
    record(ctx, rec, result, { startPeriod, retries, started });
    schedule();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** handleProbeResult: the streak, the status and its event, the bounded log. */
function record(
  ctx: Ctx,
  rec: ContainerRecord,
  result: HealthLogEntry,
  opts: { startPeriod: number; retries: number; started: number },
): void {
  const h = rec.state.Health!;
  const old = h.Status;
  h.Log.push(result);
  if (h.Log.length > MAX_LOG_ENTRIES) h.Log.splice(0, h.Log.length - MAX_LOG_ENTRIES);
  if (result.ExitCode === 0) {
    h.FailingStreak = 0;
    h.Status = 'healthy';
  } else {
    // Failures inside the start period do not count until the first success.
    const inStartPeriod = h.Status === 'starting' && Date.parse(result.Start) - opts.started < opts.startPeriod / MS;
    if (!inStartPeriod) {
      h.FailingStreak++;
      if (h.FailingStreak >= opts.retries) h.Status = 'unhealthy';
    }
  }
  ctx.store.save(rec);
  if (h.Status !== old) emit(ctx, `health_status: ${h.Status}`, rec);
}

/** One probe: an exec of `cmd`, its output (first 4 KiB) and exit code; killed at the timeout. */
async function runProbe(
  execs: ExecStore,
  rec: ContainerRecord,
  cmd: string[],
  timeoutNs: number,
): Promise<HealthLogEntry> {
  const start = nowIso();
  const inst = execs.create(rec, { Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false });
  const proc = await execs.start(inst);
  let output = '';
  const collect = (d: Buffer) => {
    if (output.length < MAX_OUTPUT) output += d.toString('utf8');
  };
  proc.stdout.on('data', collect);
  proc.stderr?.on('data', collect);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), timeoutNs / MS);
  });
  const drained = (s: NodeJS.ReadableStream | null) =>
    new Promise<void>((r) => {
      if (!s) r();
      else {
        s.on('end', r);
        s.on('error', r);
      }
    });
  const finished = Promise.all([proc.exited, drained(proc.stdout), drained(proc.stderr)]).then(([code]) => code);
  const outcome = await Promise.race([finished, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    try {
      process.kill(inst.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    return {
      Start: start,
      End: nowIso(),
      ExitCode: -1,
      Output: `Health check exceeded timeout (${goDuration(timeoutNs)})`,
    };
  }
  return { Start: start, End: nowIso(), ExitCode: outcome, Output: output.slice(0, MAX_OUTPUT) };
}

/** At the container's exit: the monitor stops and a stopped container reads unhealthy (Docker's SetStopped; no event). */
export function stopHealthMonitor(ctx: Ctx, rec: ContainerRecord): void {
  const live = liveOf(ctx, rec.id);
  live.health?.stop();
  live.health = undefined;
  if (rec.state.Health) rec.state.Health.Status = 'unhealthy';
}
