// Bind-mounting a host path onto a destination inside a container root that may be running:
// the destination is resolved inside the root, opened without following a final symlink, and
// the mount goes through that open file (/proc/self/fd/N, not re-resolved by mount(8)), so a
// container swapping a path component for a symlink cannot redirect the mount onto the host
// (the race behind CVE-2021-30465 and CVE-2018-15664).
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { SystemError } from '../errors.js';
import { mkdirInRoot, secureJoin } from '../runtime/rootfs-path.js';

const O_PATH = 0o10000000;

export async function bindInRoot(rootfs: string, source: string, destination: string, readOnly: boolean): Promise<string> {
  const isDir = fs.statSync(source).isDirectory();
  let target: string;
  if (isDir) {
    target = mkdirInRoot(rootfs, destination);
  } else {
    mkdirInRoot(rootfs, path.posix.dirname(destination));
    target = secureJoin(rootfs, destination);
    if (!fs.existsSync(target)) fs.writeFileSync(target, '', { flag: 'wx' });
  }
  const real = await withOpenTarget(rootfs, target, destination, (fd) => mountVia(fd, ['--no-canonicalize', '--rbind', source, '/proc/self/fd/3']));
  // Opened again: the new fd names the bind mount itself, which the remount must reach.
  if (readOnly) await withOpenTarget(rootfs, target, destination, (fd) => mountVia(fd, ['--no-canonicalize', '-o', 'remount,bind,ro', '/proc/self/fd/3']));
  return real;
}

async function withOpenTarget(rootfs: string, target: string, destination: string, fn: (fd: number) => Promise<void>): Promise<string> {
  const fd = fs.openSync(target, O_PATH | fs.constants.O_NOFOLLOW);
  try {
    const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
    if (real !== rootfs && !real.startsWith(rootfs + '/')) throw new SystemError(`mount destination ${destination} resolves outside the container root`);
    await fn(fd);
    return real;
  } finally {
    fs.closeSync(fd);
  }
}

function mountVia(fd: number, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mount', args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new SystemError(`mount ${args.join(' ')}: ${err.trim()}`))));
  });
}
