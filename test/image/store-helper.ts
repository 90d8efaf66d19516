// An image store on a scratch data-root with the real snapshotter, for tests below the API.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openMetaDb, type MetaDb } from '../../src/meta/db.js';
import { chooseDriver, createSnapshotter } from '../../src/snapshot/index.js';
import { EventBus } from '../../src/system/events.js';
import { silentLogger } from '../../src/util/log.js';
import { ImageStore } from '../../src/image/service.js';
import type { DriverName, Snapshotter } from '../../src/snapshot/snapshotter.js';

export interface TestStore {
  dir: string;
  store: ImageStore;
  db: MetaDb;
  snapshotter: Snapshotter;
  /** Opens the same data-root again, as a restarted daemon would (runs startup recovery). */
  reopen(): Promise<TestStore>;
  close(): void;
  /** Committed snapshot names, extract-* keys, blob digests and image rows. */
  census(): Promise<{ snapshots: string[]; blobs: string[]; images: string[]; layers: string[]; ingests: string[] }>;
}

/** `driver`: the storage driver to use instead of the one the data-root would get. */
export async function openStore(dir?: string, driver?: DriverName): Promise<TestStore> {
  const root = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'strata-image-'));
  const db = openMetaDb(path.join(root, 'strata.db'));
  driver ??= await chooseDriver(root);
  const snapshotter = await createSnapshotter(driver, {
    root: path.join(root, 'snapshots', driver),
    db,
    log: silentLogger,
  });
  await snapshotter.cleanup();
  const store = new ImageStore({ db, dataRoot: root, snapshotter, log: silentLogger, events: new EventBus() });
  await store.recover();
  const t: TestStore = {
    dir: root,
    store,
    db,
    snapshotter,
    async reopen() {
      t.close();
      return openStore(root, driver);
    },
    close() {
      db.close();
    },
    async census() {
      const snapshots: string[] = [];
      await snapshotter.walk((i) => {
        snapshots.push(i.name);
      });
      return {
        snapshots: snapshots.sort(),
        blobs: (await store.content.walk()).sort(),
        images: store.rows.ids().sort(),
        layers: store.layers
          .all()
          .map((l) => l.chainID)
          .sort(),
        ingests: fs.readdirSync(store.content.ingestDir),
      };
    },
  };
  return t;
}

export function removeStoreDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
