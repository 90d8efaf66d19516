// Startup recovery for local volumes. A rename interrupted after its row was committed is
// finished first (the directory moved to the new name). Creation makes the directories before
// it commits the row, and removal renames the directory away before it deletes the row, so
// after a crash:
// a row without a directory is a removal that did not finish (drop the row); a directory without
// a row is a creation that did not finish (drop it when empty; adopt it when it holds data, since
// bytes are never thrown away on a guess). Lazily mounted filesystems left by a previous run are
// unmounted: they come back when a container next mounts the volume.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/log.js';
import { mountsUnder } from '../mount/kernel.js';
import type { LocalDriver } from './local-driver.js';
import type { VolumeStore } from './store.js';
import { rfc3339Now } from './store.js';

const localName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export async function recoverVolumes(store: VolumeStore, local: LocalDriver, root: string, log: Logger): Promise<void> {
  for (const { newName, oldName } of store.pendingRenames()) {
    const from = path.join(root, oldName);
    if (!fs.existsSync(path.join(root, newName)) && fs.existsSync(from)) {
      log.warn(`volume ${newName}: finishing its rename from ${oldName}`);
      fs.renameSync(from, path.join(root, newName));
    }
    store.finishRename(newName);
  }
  const rows = new Map(
    store
      .all()
      .filter((r) => r.driver === 'local')
      .map((r) => [r.name, r]),
  );
  for (const r of rows.values()) {
    if (!fs.existsSync(path.join(root, r.name))) {
      log.warn(`volume ${r.name}: directory gone (interrupted removal); dropping its record`);
      store.delete(r.name);
      continue;
    }
    await local.releaseStaleMount(r.name, r.options);
  }
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || rows.has(entry.name) || !localName.test(entry.name) || store.get(entry.name)) continue;
    const dir = path.join(root, entry.name);
    if ((await mountsUnder(dir)).length > 0) continue;
    const data = path.join(dir, '_data');
    const empty = !fs.existsSync(data) || fs.readdirSync(data).length === 0;
    if (empty) {
      fs.rmSync(dir, { recursive: true, force: true });
      continue;
    }
    log.warn(`volume ${entry.name}: directory without a record; adopting it as a local volume`);
    store.insert({
      name: entry.name,
      driver: 'local',
      labels: {},
      options: {},
      createdAt: rfc3339Now(fs.statSync(dir).mtime),
      anonymous: false,
      scope: 'local',
    });
  }
}
