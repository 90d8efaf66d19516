// Starts the direct restorer (restorer.ts) in a worker thread and reports its outcome.
import { Worker } from 'node:worker_threads';
import { SystemError } from '../../errors.js';
import type { RestoreProgress } from './restorer.js';

/** Resolves true when restored, false when the snapshot holds node types the restorer leaves to restic. */
export function restoreLocal(repo: string, password: string, snapshot: string, target: string, onProgress?: (p: RestoreProgress) => void): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./restore-worker.js', import.meta.url), { workerData: { repo, password, snapshot, target } });
    let settled = false;
    w.on('message', (m: { progress?: RestoreProgress; done?: RestoreProgress; error?: string; unsupported?: boolean }) => {
      if (m.progress) onProgress?.(m.progress);
      else if (m.done) { settled = true; resolve(true); }
      else if (m.error !== undefined) {
        settled = true;
        if (m.unsupported) resolve(false);
        else reject(new SystemError(`restore: ${m.error}`));
      }
    });
    w.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    w.on('exit', (code) => { if (!settled) reject(new SystemError(`restore worker exited with ${code}`)); });
  });
}
