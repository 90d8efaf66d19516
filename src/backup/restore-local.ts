// Drives a direct restore (restorer.ts) on worker threads, off the daemon's event loop: one
// worker plans (directories, symlinks) and finishes (hardlinks, directory metadata), and the
// regular files are written by it and one more worker in parallel, since creating many files
// is mostly kernel time that a second thread overlaps.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvalidParameter, SystemError } from '../errors.js';
import { shareFiles, type FileJob, type RestoreProgress } from './restorer.js';

const WORKER = new URL('./restore-worker.js', import.meta.url);

class Unsupported extends Error {}

interface Message {
  progress?: RestoreProgress;
  files?: FileJob[];
  written?: RestoreProgress;
  finished?: boolean;
  error?: string;
  unsupported?: boolean;
  refused?: boolean;
}

function start(workerData: unknown, onMessage: (m: Message) => void): { worker: Worker; failed: Promise<never> } {
  const worker = new Worker(WORKER, { workerData });
  const failed = new Promise<never>((_, reject) => {
    worker.on('message', (m: Message) => {
      if (m.error !== undefined)
        reject(
          m.unsupported
            ? new Unsupported(m.error)
            : m.refused
              ? new InvalidParameter(m.error)
              : new SystemError(`restore: ${m.error}`),
        );
      else onMessage(m);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new SystemError(`restore worker exited with ${code}`)));
  });
  failed.catch(() => {});
  return { worker, failed };
}

function next<T>(register: (resolve: (v: T) => void) => void, failed: Promise<never>): Promise<T> {
  return Promise.race([new Promise<T>(register), failed]);
}

/**
 * Resolves true when restored, false when the snapshot holds node types left to `restic restore`;
 * InvalidParameter for a node a restore refuses. `stripSetid`: drop setuid/setgid bits.
 */
export async function restoreLocal(
  repo: string,
  password: string,
  snapshot: string,
  target: string,
  onProgress?: (p: RestoreProgress) => void,
  stripSetid = false,
): Promise<boolean> {
  const threads = Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
  const bytes = new Map<Worker, number>();
  const report = (w: Worker) => (p: RestoreProgress) => {
    bytes.set(w, p.bytes);
    onProgress?.({ bytes: [...bytes.values()].reduce((a, b) => a + b, 0), files: p.files });
  };
  let onPlan: ((m: Message) => void) | undefined;
  const plan = start({ mode: 'plan', repo, password, snapshot, target, stripSetid }, (m) => onPlan?.(m));
  const helpers: Worker[] = [plan.worker];
  try {
    const files = await next<FileJob[]>((resolve) => {
      onPlan = (m) => {
        if (m.files) resolve(m.files);
      };
    }, plan.failed);
    const [mine, ...others] = shareFiles(files, threads);
    const written = others.map((share) => {
      let resolveWritten!: () => void;
      const w = start({ mode: 'files', repo, password, files: share, stripSetid }, (m) => {
        if (m.progress) report(w.worker)(m.progress);
        if (m.written) resolveWritten();
      });
      helpers.push(w.worker);
      return next<void>((resolve) => {
        resolveWritten = resolve;
      }, w.failed);
    });
    const mineWritten = next<void>((resolve) => {
      onPlan = (m) => {
        if (m.progress) report(plan.worker)(m.progress);
        if (m.written) resolve();
      };
      plan.worker.postMessage({ write: mine });
    }, plan.failed);
    await Promise.all([mineWritten, ...written]);
    await next<void>((resolve) => {
      onPlan = (m) => {
        if (m.finished) resolve();
      };
      plan.worker.postMessage({ finish: true });
    }, plan.failed);
    return true;
  } catch (err) {
    if (err instanceof Unsupported) return false;
    throw err;
  } finally {
    await Promise.all(helpers.map((w) => w.terminate()));
  }
}
