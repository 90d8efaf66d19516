// Local volumes against their directories, both ways, with the same judgement as startup
// recovery: a row without its directory is a removal that did not finish (the row goes: its
// data is gone, nothing else can be done); a directory without a row is a creation that did
// not finish (removed when empty, adopted as a volume when it holds data: bytes are never
// thrown away on a guess).
import fs from 'node:fs';
import path from 'node:path';
import { VolumeStore, rfc3339Now } from '../../volume/store.js';
import { removeTreeNoCross } from '../../mount/scratch.js';
import { directoryUsage } from '../../snapshot/usage.js';
import type { CheckEnv, Fault } from './types.js';
import { count } from './types.js';

const localName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export async function checkVolumes(env: CheckEnv): Promise<Fault[]> {
  const store = new VolumeStore(env.engine.db);
  const root = path.join(env.dataRoot, 'volumes');
  const dirs = fs.existsSync(root) ? fs.readdirSync(root, { withFileTypes: true }) : [];
  const rows = store.all();
  count(env, 'volumes', rows.length);
  const faults: Fault[] = [];
  if (!env.quiet) {
    // A removal moves the directory away before it drops the row; a creation makes it first.
    env.skipped.push('volume rows without a directory and directories without a row: other requests were in flight');
    return faults;
  }
  for (const r of rows) {
    if (r.driver !== 'local') continue;
    const dir = path.join(root, r.name);
    if (fs.existsSync(dir)) continue;
    faults.push({
      kind: 'volume-dir-missing',
      path: dir,
      size: 0,
      detail: `volume ${r.name} has no directory`,
      still: () => store.get(r.name) !== undefined && !fs.existsSync(dir),
      repair: async () => {
        const users = store.users(r.name);
        store.delete(r.name);
        return `its data is gone: volume row dropped (nothing else can be done)${users.length ? `; ${users.length} container(s) referred to it` : ''}`;
      },
    });
  }
  for (const e of dirs) {
    if (!e.isDirectory() || !localName.test(e.name) || store.get(e.name)) continue;
    const dir = path.join(root, e.name);
    const data = path.join(dir, '_data');
    const size = (await directoryUsage(dir).catch(() => ({ size: 0 }))).size;
    faults.push({
      kind: 'volume-dir-orphan',
      path: dir,
      size,
      detail: 'no volume row owns this directory',
      still: () => fs.existsSync(dir) && store.get(e.name) === undefined,
      repair: async () => {
        const empty = !fs.existsSync(data) || fs.readdirSync(data).length === 0;
        if (empty) {
          const kept = removeTreeNoCross(dir);
          if (kept.length > 0) throw new Error(`${kept[0]} is a mount point`);
          return 'empty: removed';
        }
        store.insert({
          name: e.name,
          driver: 'local',
          labels: {},
          options: {},
          createdAt: rfc3339Now(fs.statSync(dir).mtime),
          anonymous: false,
          scope: 'local',
        });
        return 'holds data: adopted as local volume ' + e.name;
      },
    });
  }
  return faults;
}
