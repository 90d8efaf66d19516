// A throwaway data-root with a metadata DB and one snapshotter, and helpers that mount through
// mount/kernel.ts exactly as the container room will. Teardown fails the test if anything the
// test mounted is still mounted.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openMetaDb, type MetaDb } from '../../src/meta/db.js';
import { createSnapshotter } from '../../src/snapshot/index.js';
import type { DriverName, Snapshotter } from '../../src/snapshot/snapshotter.js';
import { mountLoopFs, type LoopFs } from '../helpers/loop-fs.js';
import type { Mount } from '../../src/mount/types.js';
import { mountAll, mountsUnder, unmount } from '../../src/mount/kernel.js';
import { silentLogger } from '../../src/util/log.js';

export type Driver = DriverName;

export interface FixtureOptions {
  /** Where the throwaway data-root goes (default: the system's temp dir), e.g. on another filesystem. */
  base?: () => string;
}

export interface Fixture {
  tmp: string;
  root: string;
  db: MetaDb;
  sn: Snapshotter;
  /** Mounts `mounts` on a fresh directory and returns it. */
  mount(mounts: Mount[]): Promise<string>;
  /** Mounts, runs fn, unmounts. */
  withMount<T>(mounts: Mount[], fn: (dir: string) => Promise<T>): Promise<T>;
  /** Reopens the snapshotter on the same DB and directory (a daemon restart). */
  reopen(): Promise<Snapshotter>;
  close(): Promise<void>;
}

export async function makeFixture(driver: Driver, opts: FixtureOptions = {}): Promise<Fixture> {
  const tmp = await mkdtemp(path.join(opts.base?.() ?? os.tmpdir(), 'strata-snap-'));
  // btrfs: the data-root on a loop-mounted btrfs of its own, unmounted by close().
  const loop: LoopFs | undefined = driver === 'btrfs' ? mountLoopFs('btrfs', 1024) : undefined;
  // A long data-root path, so that 128 absolute lowerdirs overflow one page of mount options.
  const dataRoot = path.join(loop?.mountPoint ?? tmp, 'a-data-root-with-a-rather-long-name-for-testing');
  const root = path.join(dataRoot, 'snapshots', driver);
  await mkdir(dataRoot, { recursive: true });
  const db = openMetaDb(path.join(dataRoot, 'strata.db'));
  let counter = 0;
  const fx: Fixture = {
    tmp,
    root,
    db,
    sn: await createSnapshotter(driver, { root, db, log: silentLogger }),
    async mount(mounts) {
      const target = path.join(tmp, `mnt-${counter++}`);
      await mkdir(target);
      await mountAll(mounts, target);
      return target;
    },
    async withMount(mounts, fn) {
      const target = await fx.mount(mounts);
      try {
        return await fn(target);
      } finally {
        await unmount(target);
      }
    },
    async reopen() {
      fx.sn = await createSnapshotter(driver, { root, db, log: silentLogger });
      return fx.sn;
    },
    async close() {
      const left = await mountsUnder(tmp);
      for (const m of left.reverse()) await unmount(m.mountPoint, { lazy: true });
      db.close();
      loop?.teardown();
      await rm(tmp, { recursive: true, force: true });
      assert.deepEqual(
        left.map((m) => m.mountPoint),
        [],
        'mounts left behind under the test directory',
      );
    },
  };
  return fx;
}
