// Startup: the project IDs of the data-root's table whose directory is gone. A removal lifts a
// limit after moving the directory away (a volume to tmp/, which startup empties), and a
// create takes an ID before its directory carries it; a crash between the steps leaves a row
// no directory answers to, and a limit on the filesystem for an ID a later directory could
// otherwise get. Each such limit is lifted and its row dropped.
//
// Where the directories are: a volume's _data (volumes/<name>/_data) and a writable layer's
// directory (snapshots/<driver>/<id>) lie at most three levels below the data-root, so the
// sweep reads the project ID of every directory down to that depth, never descending into
// one (what a container wrote is below), never following a symlink, and skipping tmp/.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/log.js';
import { getFsXattr } from '../native/fsxattr.js';
import { liftProjectLimit } from './project-quota.js';
import type { ProjectIds } from './project-ids.js';

const DEPTH = 3;

/** The project IDs directories down to DEPTH levels below `root` carry (tmp/ aside). */
function carriedIds(root: string): Set<number> {
  const ids = new Set<number>();
  const visit = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || (depth === 1 && e.name === 'tmp')) continue;
      const p = path.join(dir, e.name);
      try {
        const id = getFsXattr(p).projectId;
        if (id !== 0) ids.add(id);
      } catch {
        /* gone, or not a filesystem with project IDs */
      }
      if (depth < DEPTH) visit(p, depth + 1);
    }
  };
  visit(root, 1);
  return ids;
}

/**
 * Lifts the limit of every project ID in `ids` that no directory of `dataRoot` carries and
 * gives the ID back. Returns the IDs lifted.
 */
export async function sweepProjectQuotas(dataRoot: string, ids: ProjectIds, log: Logger): Promise<number[]> {
  const rows = ids.all();
  if (rows.length === 0) return [];
  const carried = carriedIds(dataRoot);
  const lifted: number[] = [];
  for (const r of rows) {
    if (carried.has(r.id)) continue;
    try {
      await liftProjectLimit(r.mountPoint, r.id);
      ids.release(r.id);
      lifted.push(r.id);
      log.info(`startup: lifted the limit of project ${r.id} (${r.path}), whose directory is gone`);
    } catch (err) {
      log.warn(`startup: project ${r.id} (${r.path}): ${(err as Error).message}`);
    }
  }
  return lifted;
}
