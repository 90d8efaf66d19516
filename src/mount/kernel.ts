// Performs and undoes `Mount[]` (mounts as data, from snapshotters, volumes and containers) with
// util-linux mount(8)/umount(8). The overlay case needs a child process anyway: see
// compactOverlayOptions for why the mount must run with its own working directory.
import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Mount } from './types.js';
import { SystemError } from '../errors.js';

/**
 * mount(2) copies its data argument into one page; anything longer fails with EINVAL. x86_64 and
 * most arm64 kernels use 4 KiB pages, the smallest Linux has, so that is the safe bound.
 */
const PAGE_SIZE = 4096;

interface Run {
  cwd?: string;
}

function run(cmd: string, args: string[], opts: Run = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd, env: { ...process.env, LC_ALL: 'C' } }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const detail = String(stderr).trim() || err.message;
      reject(new SystemError(detail));
    });
  });
}

const bindFlags = new Set(['bind', 'rbind']);
const propagation = new Set([
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'unbindable',
  'runbindable',
]);
/** Per-mount flags that a bind mount only takes through a second, remounting call. */
const remountFlags = new Set(['ro', 'nosuid', 'nodev', 'noexec', 'noatime', 'nodiratime', 'relatime', 'strictatime']);

const isBind = (m: Mount) => m.type === 'bind' || m.options.some((o) => bindFlags.has(o));

/** Mounts each of `mounts` onto `target` in order (later ones stack on earlier ones); on failure undoes what it did. */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  let done = 0;
  try {
    for (const m of mounts) {
      await mountOne(m, target);
      done++;
    }
  } catch (err) {
    for (; done > 0; done--) await run('umount', ['-l', target]).catch(() => undefined);
    throw err;
  }
}

async function mountOne(m: Mount, target: string): Promise<void> {
  const fail = (err: unknown): never => {
    throw new SystemError(
      `mount ${m.type} ${m.source} on ${target}: ${err instanceof Error ? err.message : String(err)}`,
    );
  };
  if (isBind(m)) {
    const recursive = m.options.includes('rbind');
    await run('mount', [recursive ? '--rbind' : '--bind', '--', m.source, target]).catch(fail);
    const flags = m.options.filter((o) => remountFlags.has(o));
    try {
      if (flags.length > 0) await run('mount', ['-o', ['remount', 'bind', ...flags].join(','), '--', target]);
      for (const p of m.options.filter((o) => propagation.has(o))) await run('mount', [`--make-${p}`, '--', target]);
    } catch (err) {
      await run('umount', ['-l', target]).catch(() => undefined);
      fail(err);
    }
    return;
  }
  if (m.type === 'fuse-overlayfs') {
    // A FUSE filesystem: the program mounts it and stays as its server (it detaches itself,
    // and exits when the mount goes).
    const data = m.options.filter((o) => !propagation.has(o));
    await run('fuse-overlayfs', ['-o', data.join(','), target]).catch(fail);
    for (const p of m.options.filter((o) => propagation.has(o)))
      await run('mount', [`--make-${p}`, '--', target]).catch(fail);
    return;
  }
  let options = m.options;
  let cwd: string | undefined;
  if (m.type === 'overlay') ({ options, cwd } = compactOverlayOptions(m.options));
  const args = ['-t', m.type];
  const data = options.filter((o) => !propagation.has(o));
  if (data.length > 0) args.push('-o', data.join(','));
  args.push('--', m.source, target);
  await run('mount', args, { cwd }).catch(fail);
  for (const p of options.filter((o) => propagation.has(o)))
    await run('mount', [`--make-${p}`, '--', target]).catch(fail);
}

/**
 * An image of 128 layers under a long data-root gives a lowerdir list longer than a page.
 * Docker keeps short `l/<26 chars>` symlinks to every layer for this; Strata does what
 * containerd's mount_linux.go does instead, which needs no extra state on disk: when the
 * options do not fit, write every lowerdir (and upperdir/workdir when they share it) relative to
 * the directories' common parent and run mount(8) with that parent as its working directory,
 * where the kernel resolves relative paths. Snapshot directories are `<root>/<id>/fs`, so each
 * lower shrinks to a few characters. (Linux ≥ 6.5 also accepts `lowerdir+` one by one through
 * fsconfig(2), which has no such limit but needs the new mount API.)
 */
export function compactOverlayOptions(options: string[]): { options: string[]; cwd?: string } {
  if (Buffer.byteLength(options.join(',')) < PAGE_SIZE - 256) return { options };
  const lowerIdx = options.findIndex((o) => o.startsWith('lowerdir='));
  if (lowerIdx < 0) return { options };
  const lowers = options[lowerIdx].slice('lowerdir='.length).split(':');
  const common = commonDir(lowers.filter((l) => path.isAbsolute(l)));
  if (!common || common === '/' || lowers.some((l) => !path.isAbsolute(l))) return { options };
  const rel = (p: string) => (p === common || p.startsWith(common + '/') ? path.relative(common, p) : p);
  const out = options.map((o, i) => {
    if (i === lowerIdx) return 'lowerdir=' + lowers.map(rel).join(':');
    for (const k of ['upperdir=', 'workdir=']) if (o.startsWith(k)) return k + rel(o.slice(k.length));
    return o;
  });
  if (Buffer.byteLength(out.join(',')) >= PAGE_SIZE) {
    throw new SystemError(
      `overlay mount options are ${Buffer.byteLength(out.join(','))} bytes even with relative paths: more than one page`,
    );
  }
  return { options: out, cwd: common };
}

function commonDir(paths: string[]): string | undefined {
  if (paths.length === 0) return undefined;
  let parts = path.dirname(path.resolve(paths[0])).split('/');
  for (const p of paths.slice(1)) {
    const q = path.dirname(path.resolve(p)).split('/');
    let n = 0;
    while (n < parts.length && n < q.length && parts[n] === q[n]) n++;
    parts = parts.slice(0, n);
  }
  return parts.join('/') || '/';
}

/**
 * Unmounts whatever is mounted on `target`, including mounts stacked on it and mounts beneath
 * it, until nothing is. A target that is not a mount point (or does not exist) is left alone, so
 * calling this twice is fine. `lazy` detaches even busy mounts (MNT_DETACH).
 */
export async function unmount(target: string, opts: { lazy?: boolean } = {}): Promise<void> {
  for (let i = 0; i < 64; i++) {
    if (!(await isMountPoint(target))) return;
    try {
      await run('umount', opts.lazy ? ['-l', '--', target] : ['-R', '--', target]);
    } catch (err) {
      if (/not mounted|no mount point specified/.test((err as Error).message)) return;
      throw new SystemError(`unmount ${target}: ${(err as Error).message}`);
    }
  }
  throw new SystemError(`unmount ${target}: still mounted after 64 unmounts`);
}

export interface MountInfo {
  id: number;
  parentId: number;
  /** Where it is mounted, unescaped. */
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export async function readMountInfo(): Promise<MountInfo[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (dash < 0) continue;
    out.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      mountPoint: unescape(f[4]),
      fsType: f[dash + 1],
      source: unescape(f[dash + 2] ?? ''),
      superOptions: f[dash + 3] ?? '',
    });
  }
  return out;
}

async function resolved(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch {
    return undefined;
  }
}

export async function isMountPoint(p: string): Promise<boolean> {
  const real = await resolved(p);
  if (!real) return false;
  return (await readMountInfo()).some((m) => m.mountPoint === real);
}

/** Mounts at `dir` or anywhere beneath it (for refusing to delete a tree something is mounted in). */
export async function mountsUnder(dir: string): Promise<MountInfo[]> {
  const real = (await resolved(dir)) ?? path.resolve(dir);
  const prefix = real === '/' ? '/' : real + '/';
  return (await readMountInfo()).filter((m) => m.mountPoint === real || m.mountPoint.startsWith(prefix));
}
