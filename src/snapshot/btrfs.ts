// The btrfs driver: vfs's full trees without vfs' copies. Every layer and writable layer is a
// subvolume at <root>/<id>/fs; a snapshot on a parent is a btrfs snapshot of the parent's
// subvolume, made in one ioctl whatever the layer's size, sharing every extent until written.
// Changes are read as vfs reads them (the tree compared with the parent's), and the size of a
// writable layer is what it changed, so both come from the vfs driver. `--storage-opt size`
// is a qgroup limit on the writable layer's subvolume, as in Docker's btrfs driver.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import type { GraphDriverData, SnapshotKind } from './snapshotter.js';
import type { MetaDb } from '../meta/db.js';
import type { Logger } from '../util/log.js';
import type { Layout } from './local.js';
import { VfsSnapshotter } from './vfs.js';
import * as btrfs from '../native/btrfs.js';
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

  /** Refuses a root off btrfs before making anything there, in dockerd's words. */
  override async init(): Promise<this> {
    let dir = this.root;
    while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
    if (!btrfs.isBtrfs(dir))
      throw new InvalidParameter(
        'error initializing graphdriver: prerequisites for driver not satisfied (wrong filesystem?)',
      );
    return super.init();
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
    btrfs.destroySubvolume(dir, SUBVOLUME);
    await super.destroyDir(dir);
  }

  protected override async removeOrphan(dir: string): Promise<string[]> {
    btrfs.destroySubvolume(dir, SUBVOLUME);
    return super.removeOrphan(dir);
  }
}
