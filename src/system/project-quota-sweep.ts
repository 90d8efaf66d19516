// Startup: the project IDs of the data-root's table whose directory is gone, and the IDs
// directories carry that the table does not hold (given by a version that derived them from
// the path alone), which are recorded so that no new directory gets them. A removal lifts a
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
import { liftProjectLimit, quotaMountPoint, quotaSupported } from './project-quota.js';
import type { ProjectIds } from './project-ids.js';

const DEPTH = 3;

/** The project IDs directories down to DEPTH levels below `root` carry (tmp/ aside), each with one such directory. */
function carriedIds(root: string): Map<number, string> {
  const ids = new Map<number, string>();
  const visit = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    let inherited = 0;
    try {
      inherited = getFsXattr(dir).projectId;
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory() || (depth === 1 && e.name === 'tmp')) continue;
      const p = path.join(dir, e.name);
      try {
        // A directory with its parent's ID inherited it; only one with an ID of its own has a limit.
        const id = getFsXattr(p).projectId;
        if (id !== 0 && id !== inherited && !ids.has(id)) ids.set(id, p);
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
 * Records the IDs directories carry that `ids` lacks, lifts the limit of every project ID in
 * `ids` that no directory of `dataRoot` carries and gives the ID back. Returns the IDs lifted.
 * IDs are recorded only where limits are enforced (`enforced`, by default what the data-root's
 * mount says): elsewhere no limit is set, and one could not be lifted either.
 */
export async function sweepProjectQuotas(
  dataRoot: string,
  ids: ProjectIds,
  log: Logger,
  enforced = quotaSupported(dataRoot),
): Promise<number[]> {
  const rows = ids.all();
  const mount = enforced ? quotaMountPoint(dataRoot) : undefined;
  if (rows.length === 0 && !mount) return [];
  const carried = carriedIds(dataRoot);
  if (mount) {
    for (const [id, dir] of carried) {
      if (ids.adopt(id, mount, dir)) log.info(`startup: project ${id} of ${dir} recorded as taken`);
    }
  }
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
