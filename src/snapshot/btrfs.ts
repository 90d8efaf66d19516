// The btrfs driver: vfs's full trees without vfs' copies. Every layer and writable layer is a
// subvolume at <root>/<id>/fs; a snapshot on a parent is a btrfs snapshot of the parent's
// subvolume, made in one ioctl whatever the layer's size, sharing every extent until written.
// Changes are read as vfs reads them (the tree compared with the parent's), and the size of a
// writable layer is what it changed, so both come from the vfs driver. `--storage-opt size`
// is a qgroup limit on the writable layer's subvolume, as in Docker's btrfs driver.
import { execFile } from 'node:child_process';
import { closeSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import type { GraphDriverData, SnapshotKind } from './snapshotter.js';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Layout } from './local.js';
import { VfsSnapshotter } from './vfs.js';
import * as btrfs from '../native/btrfs.js';
import { statx } from '../native/syscalls.js';
import { InvalidParameter, SystemError } from '../errors.js';

const SUBVOLUME = 'fs';
/** libbtrfs' BTRFS_LIB_VERSION (0.1.2), which dockerd prints as the driver's Library Version. */
const LIB_VERSION = '102';

/** `btrfs --version` says "btrfs-progs v6.2"; dockerd's Build Version says "Btrfs v6.2". */
function buildVersion(): Promise<string | undefined> {
  return new Promise((resolve) =>
    execFile('btrfs', ['--version'], (err, out) => {
      const v = err ? undefined : /v\d[\w.-]*/.exec(String(out))?.[0];
      resolve(v && `Btrfs ${v}`);
    }),
  );
}

export class BtrfsSnapshotter extends VfsSnapshotter {
  private cachedStatus?: [string, string][];

  constructor(root: string, db: MetaDb, log: Logger) {
    super(root, db, log, 'btrfs');
  }

  override async init(): Promise<this> {
    await super.init();
    if (!btrfs.isBtrfs(this.root))
      throw new InvalidParameter(
        `prerequisites for driver not satisfied (wrong filesystem?): ${this.root} is not on btrfs`,
      );
    return this;
  }

  /** Docker's btrfs driver status: the btrfs-progs it was built with and libbtrfs' version. */
  override async status(): Promise<[string, string][]> {
    if (this.cachedStatus) return this.cachedStatus;
    const v = await buildVersion();
    this.cachedStatus = [...(v ? [['Build Version', v] as [string, string]] : []), ['Library Version', LIB_VERSION]];
    return this.cachedStatus;
  }

  /** A view needs no subvolume: it binds its committed (immutable) parent read-only, as on vfs. */
  protected override async populate(
    l: Layout,
    kind: Exclude<SnapshotKind, 'committed'>,
    parents: Layout[],
  ): Promise<void> {
    if (kind === 'view') return super.populate(l, kind, parents);
    btrfs.withDirFd(l.dir, (dirFd) => {
      if (parents.length > 0) btrfs.withDirFd(parents[0].fs, (src) => btrfs.snapshotCreate(src, dirFd, SUBVOLUME));
      else btrfs.subvolumeCreate(dirFd, SUBVOLUME);
    });
    if (parents.length === 0) await chmod(l.fs, 0o755); // whatever the umask: an image's root is 0755
  }

  protected override graphDriverDataOf(): GraphDriverData {
    return { Name: 'btrfs', Data: null };
  }

  override async limitSize(key: string, bytes: number): Promise<void> {
    const row = this.store.get(key);
    if (row.kind !== 'active')
      throw new InvalidParameter(`snapshot ${key} is not an active snapshot: failed precondition`);
    try {
      // Qgroup accounting costs every write a little, so it is turned on when a limit first needs it.
      btrfs.withDirFd(this.root, (fd) => btrfs.quotaEnable(fd));
      btrfs.withDirFd(this.layout(row.id).fs, (fd) => btrfs.qgroupLimit(fd, bytes));
    } catch (err) {
      throw new SystemError(`btrfs: set quota of ${key}: ${(err as Error).message}`, { cause: err });
    }
  }

  protected override async destroyDir(dir: string): Promise<void> {
    await destroySubvolumeIn(dir, this.log);
    await super.destroyDir(dir);
  }

  protected override async removeOrphan(dir: string): Promise<string[]> {
    await destroySubvolumeIn(dir, this.log);
    return super.removeOrphan(dir);
  }
}

/**
 * Deletes `<dir>/fs` if it is a subvolume, and its limit with it. A subvolume holding nested
 * subvolumes (made by a privileged container) cannot be deleted whole: its tree is emptied first
 * (rmdir deletes an empty subvolume). The level-0 qgroup outlives the subvolume until btrfs'
 * cleaner has dropped it, then the kernel removes it; its limit is lifted at once so nothing
 * keeps enforcing it meanwhile.
 */
export async function destroySubvolumeIn(dir: string, log: Logger): Promise<void> {
  let dirFd: number;
  try {
    dirFd = btrfs.openDir(dir);
  } catch {
    return; // gone already
  }
  try {
    let isSubvolume = false;
    try {
      isSubvolume = statx(dirFd, SUBVOLUME).ino === BigInt(btrfs.BTRFS_FIRST_FREE_OBJECTID);
    } catch {
      return;
    }
    if (!isSubvolume) return;
    let id: bigint | undefined;
    try {
      btrfs.withDirFd(`${dir}/${SUBVOLUME}`, (fd) => {
        id = btrfs.subvolumeId(fd);
        btrfs.qgroupLimit(fd, 0);
      });
    } catch {
      /* quotas off: no qgroup to lift */
    }
    try {
      btrfs.subvolumeDestroy(dirFd, SUBVOLUME);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
      await rm(`${dir}/${SUBVOLUME}`, { recursive: true, force: true });
      return;
    }
    if (id !== undefined) {
      try {
        btrfs.qgroupDestroy(dirFd, id);
      } catch (err) {
        log.debug(`btrfs: qgroup 0/${id} stays until its subvolume is dropped: ${(err as Error).message}`);
      }
    }
  } finally {
    closeSync(dirFd);
  }
}
