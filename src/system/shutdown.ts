// How the daemon stops on SIGTERM/SIGINT, bounded whatever it is waiting for. The orderly path
// (stop accepting, end every connection including hijacked ones, stop containers within their
// stop timeouts, close the database) runs under a watchdog: if it has not finished within the
// longest stop timeout plus a margin, the daemon logs what is still pending and forces its exit.
// A second signal forces it at once. Forcing is synchronous: it kills the container processes
// and detaches whatever is still mounted under the daemon's roots, so a forced exit leaves
// neither running containers nor mounts behind (the next start records the containers as exited).
import fs from 'node:fs';
import os from 'node:os';
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../util/log.js';
import { umount2, MNT_DETACH } from '../native/syscalls.js';

/** Seconds the watchdog gives the orderly path beyond the containers' stop timeouts. */
export const SHUTDOWN_MARGIN_SECONDS = 15;

/** What is still running, named, so a watchdog that fires can say what it gave up on. */
export class Pending {
  private readonly items = new Map<number, () => string>();
  private next = 0;

  track<T>(label: string | (() => string), work: Promise<T>): Promise<T> {
    const id = this.next++;
    this.items.set(id, typeof label === 'string' ? () => label : label);
    const done = () => {
      this.items.delete(id);
    };
    work.then(done, done);
    return work;
  }

  list(): string[] {
    return [...this.items.values()].map((describe) => describe());
  }
}

export interface ShutdownPlan {
  log: Logger;
  /** The orderly shutdown; its steps register what they wait for in `pending`. */
  graceful(pending: Pending): Promise<void>;
  /** Seconds the orderly path may need (the longest stop timeout of the running containers). */
  graceSeconds(): number;
  /** The last resort, synchronous: nothing may be awaited once the daemon has decided to go. */
  force(): void;
  /** process.exit, replaceable in tests. */
  exit?(code: number): void;
}

export interface ShutdownHandle {
  /** What a signal does: the first starts the orderly shutdown, the next forces it. */
  signal(name: NodeJS.Signals): void;
}

export function shutdownOnSignals(
  plan: ShutdownPlan,
  signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): ShutdownHandle {
  const handle = createShutdown(plan);
  for (const s of signals) process.on(s, () => handle.signal(s));
  return handle;
}

export function createShutdown(plan: ShutdownPlan): ShutdownHandle {
  const { log } = plan;
  const exit = plan.exit ?? ((code: number) => process.exit(code));
  const pending = new Pending();
  let started = false;
  let finished = false;

  const forceExit = (code: number) => {
    if (finished) return;
    finished = true;
    try {
      plan.force();
    } catch (err) {
      log.error(`forced shutdown: ${(err as Error).message}`);
    }
    exit(code);
  };
  const stillPending = () => {
    const items = pending.list();
    return items.length ? items.join('; ') : 'nothing tracked';
  };

  return {
    signal(name) {
      if (finished) return;
      if (started) {
        log.warn(`${name} again: forcing shutdown; still pending: ${stillPending()}`);
        forceExit(128 + signalNumber(name));
        return;
      }
      started = true;
      let grace = SHUTDOWN_MARGIN_SECONDS;
      try {
        grace += Math.max(0, plan.graceSeconds());
      } catch {
        /* the margin alone */
      }
      log.info(`${name}: shutting down (at most ${grace}s; send ${name} again to force)`);
      const watchdog = setTimeout(() => {
        log.error(`shutdown did not finish within ${grace}s, forcing it; still pending: ${stillPending()}`);
        forceExit(1);
      }, grace * 1000);
      plan.graceful(pending).then(
        () => {
          clearTimeout(watchdog);
          if (finished) return;
          finished = true;
          exit(0);
        },
        (err: unknown) => {
          clearTimeout(watchdog);
          log.error(`shutdown failed, forcing it: ${(err as Error)?.message ?? err}`);
          forceExit(1);
        },
      );
    },
  };
}

/**
 * Every connection the server accepted, including the ones handed over by 'upgrade' (attach,
 * exec), which http.Server no longer tracks and closeAllConnections() leaves open.
 */
export function trackConnections(server: http.Server): { destroyAll(): number } {
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return {
    destroyAll() {
      const n = open.size;
      for (const s of open) s.destroy();
      open.clear();
      return n;
    },
  };
}

/** Detaches every mount under `roots` (not the roots themselves), deepest first; returns what failed. */
export function detachMountsUnder(roots: string[], keep: string[] = []): string[] {
  const prefixes = roots.map((r) => r.replace(/\/+$/, '') + '/');
  const kept = keep.map((k) => k.replace(/\/+$/, '') + '/');
  const points = readMountPoints().filter(
    (m) => prefixes.some((p) => m.startsWith(p)) && !kept.some((k) => (m + '/').startsWith(k)),
  );
  const failed: string[] = [];
  for (const m of points.sort((a, b) => b.length - a.length)) {
    try {
      umount2(m, MNT_DETACH);
    } catch (err) {
      if (!/EINVAL|ENOENT/.test(String(err))) failed.push(`${m}: ${(err as Error).message}`);
    }
  }
  return failed;
}

function readMountPoints(): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => unescape(l.split(' ')[4] ?? ''));
}

function signalNumber(name: NodeJS.Signals): number {
  return os.constants.signals[name] ?? 1;
}
