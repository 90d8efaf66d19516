// Persistent network namespaces for containers: an nsfs bind mount on a file under the
// exec-root (what `ip netns add` does under /run/netns), so the namespace outlives any
// process in it, runc joins it by path, and a restarted daemon finds what a crash left.
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isMountPoint, unmount } from '../mount/kernel.js';

const run = promisify(execFile);

/** Where the daemon keeps its containers' network namespaces (bind-mounted nsfs files). */
export const networkNamespaceDir = (execRoot: string): string => path.join(execRoot, 'netns');

export async function createNetns(file: string): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, '', { mode: 0o600 });
  try {
    await run('unshare', [`--net=${file}`, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw new Error(`create network namespace: ${(err as { stderr?: string }).stderr || (err as Error).message}`);
  }
}

export async function removeNetns(file: string): Promise<void> {
  if (await isMountPoint(file).catch(() => false)) await unmount(file, { lazy: true }).catch(() => undefined);
  fs.rmSync(file, { force: true });
}
