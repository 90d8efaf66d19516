// Docker's `local` volume driver: <root>/<name>/_data on the data-root's filesystem, or, with
// `type`/`device`/`o` options, a filesystem mounted on _data when the first container mounts
// the volume and unmounted when the last one lets go (so a type=tmpfs volume starts empty
// each time it comes back into use, as in Docker).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { Conflict, SystemError } from '../errors.js';
import { mountAll, unmount, isMountPoint, mountsUnder } from '../mount/kernel.js';
import type { Logger } from '../util/log.js';
import type { VolumeDriver } from './driver.js';
import { validateLocalVolumeName } from './names.js';
import { localMountOptions, maskPassword, needsMount, validateLocalOptions } from './local-options.js';
import { applyQuota, makeDataDir, quotaSupported, releaseDataDir, releaseQuota } from './quota.js';
import type { ProjectIds } from '../system/project-ids.js';
import { crashPoint } from '../util/crash-point.js';

export interface LocalDriverDeps {
  /** <data-root>/volumes */
  root: string;
  /** <data-root>/tmp: removals are renamed here first so a crash never leaves half a volume. */
  tmp: string;
  log: Logger;
  /** The data-root's project IDs, for `size` on xfs or ext4. */
  projectIds: ProjectIds;
}

export class LocalDriver implements VolumeDriver {
  readonly name = 'local';
  readonly scope = 'local' as const;
  /** Volume name → user id → mount count. Memory only: the daemon unmounts everything at start. */
  private readonly active = new Map<string, Map<string, number>>();
  private quota: boolean | undefined;

  constructor(private readonly deps: LocalDriverDeps) {}

  dataPath(name: string): string {
    return path.join(this.deps.root, name, '_data');
  }

  async create(name: string, opts: Record<string, string>): Promise<void> {
    validateLocalVolumeName(name);
    validateLocalOptions(opts, () => this.hasQuota());
    const dir = path.join(this.deps.root, name);
    fs.mkdirSync(dir, { recursive: true, mode: 0o701 });
    makeDataDir(dir);
    if (Object.keys(opts).length > 0) {
      const m = localMountOptions(opts);
      const conf = { MountType: m.type, MountOpts: m.o, MountDevice: m.device, Quota: { Size: m.quotaSize } };
      fs.writeFileSync(path.join(dir, 'opts.json'), JSON.stringify(conf), { mode: 0o600 });
      if (m.quotaSize > 0) await applyQuota(this.dataPath(name), m.quotaSize, this.deps.projectIds);
    }
  }

  async path(name: string): Promise<string> {
    return this.dataPath(name);
  }

  async mount(name: string, opts: Record<string, string>, id: string): Promise<string> {
    const target = this.dataPath(name);
    const users = this.active.get(name) ?? new Map<string, number>();
    const total = [...users.values()].reduce((a, b) => a + b, 0);
    if (total === 0 && needsMount(opts)) await this.mountDevice(name, opts);
    users.set(id, (users.get(id) ?? 0) + 1);
    this.active.set(name, users);
    return target;
  }

  async unmount(name: string, opts: Record<string, string>, id: string): Promise<void> {
    const users = this.active.get(name);
    const n = users?.get(id) ?? 0;
    if (!users || n === 0) return;
    if (n === 1) users.delete(id);
    else users.set(id, n - 1);
    if (users.size > 0) return;
    this.active.delete(name);
    if (!needsMount(opts)) return;
    const target = this.dataPath(name);
    try {
      await unmount(target);
    } catch (err) {
      // A host process sitting in the mount keeps it busy; detach it so the next first use
      // mounts a fresh filesystem instead of stacking on the old one.
      this.deps.log.warn(`volume ${name}: ${(err as Error).message}; detaching`);
      await unmount(target, { lazy: true });
    }
  }

  isActive(name: string): boolean {
    return (this.active.get(name)?.size ?? 0) > 0;
  }

  async remove(name: string, opts: Record<string, string>): Promise<void> {
    if (this.isActive(name)) throw new Conflict('volume has active mounts');
    const dir = path.join(this.deps.root, name);
    if (!fs.existsSync(dir)) return;
    // A bind-type volume left mounted (a crash) must never be deleted through: that would empty
    // the host directory it binds.
    if (needsMount(opts)) await unmount(this.dataPath(name));
    const left = await mountsUnder(dir);
    if (left.length > 0) throw new SystemError(`remove ${name}: ${left[0]!.mountPoint} is still mounted`);
    const grave = path.join(this.deps.tmp, `volume-rm-${name}-${randomBytes(4).toString('hex')}`);
    fs.renameSync(dir, grave);
    // A crash from here on leaves the volume in tmp/, which startup empties; the startup
    // sweep of project IDs then lifts the limit no directory carries any more.
    crashPoint('volume-rm-moved');
    await releaseQuota(grave, this.deps.projectIds).catch((e: unknown) =>
      this.deps.log.warn(`volume ${name}: ${(e as Error).message}`),
    );
    releaseDataDir(grave);
    fs.rmSync(grave, { recursive: true, force: true });
  }

  /** Moves the volume's directory to a new name (one rename(2): never half moved). */
  rename(from: string, to: string): void {
    if (this.isActive(from)) throw new Conflict('volume has active mounts');
    const target = path.join(this.deps.root, to);
    if (fs.existsSync(target)) throw new Conflict(`${target} already exists`);
    fs.renameSync(path.join(this.deps.root, from), target);
  }

  /** Startup: lazily mounted volumes are mounted again on first use; unmount what a previous run left. */
  async releaseStaleMount(name: string, opts: Record<string, string>): Promise<void> {
    if (!needsMount(opts)) return;
    const target = this.dataPath(name);
    if (await isMountPoint(target))
      await unmount(target).catch((e: unknown) => this.deps.log.warn(`volume ${name}: ${e}`));
  }

  private hasQuota(): boolean {
    this.quota ??= quotaSupported(this.deps.root);
    return this.quota;
  }

  private async mountDevice(name: string, opts: Record<string, string>): Promise<void> {
    const { type, o, device } = localMountOptions(opts);
    const target = this.dataPath(name);
    const options = await resolveAddr(type, o ? o.split(',').filter(Boolean) : []);
    const bind = options.includes('bind') || options.includes('rbind') || type === 'bind';
    const fail = (msg: string): never => {
      throw new SystemError(maskPassword(`failed to mount local volume: ${msg}`, o));
    };
    fs.mkdirSync(target, { recursive: true, mode: 0o755 });
    if (bind && !fs.existsSync(device)) {
      fail(
        `mount ${device}:${target}, flags: 0x${(options.includes('rbind') ? 0x5000 : 0x1000).toString(16)}: no such file or directory`,
      );
    }
    try {
      await mountAll([{ type: bind ? 'bind' : type, source: device, options }], target);
    } catch (err) {
      fail((err as Error).message);
    }
  }
}

/** The kernel's nfs and cifs clients take an IP in addr=; Docker resolves a host name first. */
async function resolveAddr(type: string, options: string[]): Promise<string[]> {
  if (!['nfs', 'nfs4', 'cifs', 'smb3'].includes(type)) return options;
  return Promise.all(
    options.map(async (opt) => {
      if (!opt.startsWith('addr=')) return opt;
      const host = opt.slice('addr='.length);
      try {
        return `addr=${(await lookup(host)).address}`;
      } catch {
        return opt; // let mount report the unreachable host in its own words
      }
    }),
  );
}
