// A small filesystem in a sparse image file, loop-mounted for a test (xfs with project quotas,
// plain xfs, ext4 with few inodes, or btrfs), and torn down completely: unmounted, loop device detached, files gone.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LoopFs {
  /** Where the filesystem is mounted. */
  mountPoint: string;
  teardown(): void;
}

export function mountLoopFs(
  kind: 'xfs-pquota' | 'xfs' | 'ext4' | 'btrfs',
  sizeMb: number,
  mkfsArgs: string[] = [],
): LoopFs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `strata-${kind}-`));
  const image = path.join(dir, 'fs.img');
  const mountPoint = path.join(dir, 'mnt');
  fs.mkdirSync(mountPoint);
  const teardown = () => {
    for (let i = 0; i < 10 && isMounted(mountPoint); i++) {
      if (spawnSync('umount', [mountPoint]).status !== 0) spawnSync('sleep', ['0.5']);
    }
    if (isMounted(mountPoint)) spawnSync('umount', ['-l', mountPoint]);
    // mount -o loop sets autoclear, but a lazy unmount or a crash can leave the device attached.
    const attached = spawnSync('losetup', ['-j', image], { encoding: 'utf8' }).stdout;
    for (const line of attached.split('\n').filter(Boolean)) spawnSync('losetup', ['-d', line.split(':')[0]!]);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync('truncate', ['-s', `${sizeMb}M`, image]);
    if (kind === 'btrfs') {
      execFileSync('mkfs.btrfs', ['-q', ...mkfsArgs, image], { stdio: 'pipe' });
      execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'pipe' });
    } else if (kind !== 'ext4') {
      execFileSync('mkfs.xfs', ['-q', ...mkfsArgs, image]);
      execFileSync('mount', ['-o', kind === 'xfs' ? 'loop' : 'loop,pquota', image, mountPoint], { stdio: 'pipe' });
    } else {
      execFileSync('mkfs.ext4', ['-q', '-F', ...mkfsArgs, image]);
      execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'pipe' });
    }
  } catch (err) {
    teardown();
    throw err;
  }
  return { mountPoint, teardown };
}

export function isMounted(p: string): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === p);
}

/** Loop devices backed by a file under `dir` (for tests to assert nothing is left). */
export function loopDevicesUnder(dir: string): string[] {
  return spawnSync('losetup', ['-a'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes(dir));
}
