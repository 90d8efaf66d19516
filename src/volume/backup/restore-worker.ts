// Runs restorer.ts off the daemon's event loop: a restore is seconds of synchronous file I/O.
import { parentPort, workerData } from 'node:worker_threads';
import { restoreSnapshot, UnsupportedNode } from './restorer.js';

const { repo, password, snapshot, target } = workerData as { repo: string; password: string; snapshot: string; target: string };
try {
  const done = restoreSnapshot(repo, password, snapshot, target, (p) => parentPort!.postMessage({ progress: p }));
  parentPort!.postMessage({ done });
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).message, unsupported: err instanceof UnsupportedNode });
}
