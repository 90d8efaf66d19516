// Build steps hold mounts only while they run. If the daemon exits in the
// middle of one, these hooks undo them synchronously on the way out (last taken, first undone),
// so no mount pins the data-root after the daemon is gone.
import { spawnSync } from 'node:child_process';

const hooks = new Map<symbol, () => void>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', () => {
    for (const fn of [...hooks.values()].reverse()) {
      try {
        fn();
      } catch {
        /* best effort on the way out */
      }
    }
  });
}

/** Registers `fn` to run if the daemon exits; returns the function that unregisters it. */
export function undoOnExit(fn: () => void): () => void {
  install();
  const key = Symbol('build-exit-hook');
  hooks.set(key, fn);
  return () => {
    hooks.delete(key);
  };
}

export function lazyUnmountOnExit(dir: string): () => void {
  return undoOnExit(() => spawnSync('umount', ['-l', dir]));
}
