// Project IDs for size limits, kept in the metadata DB so that no two directories get the same
// one (a hash of the path alone collides, and two directories sharing an ID share one limit).
// The first candidate is still the path's hash, so IDs spread over the range; a taken one
// moves to the next free ID. A row is written before the directory carries its ID and dropped
// after the limit is lifted: a crash between the two leaves a row, which startup settles
// (project-quota-sweep.ts), never a limit no row names.
import { createHash } from 'node:crypto';
import type { MetaDb } from '../meta/db.js';

/** IDs below this are left to the host's own /etc/projects; the range holds a billion. */
const FIRST = 1_000_000;
const RANGE = 1_000_000_000;

/** The first ID tried for `dir`. */
export function projectIdCandidate(dir: string): number {
  return FIRST + (createHash('sha256').update(dir).digest().readUInt32BE(0) % RANGE);
}

export interface ProjectIdRow {
  id: number;
  mountPoint: string;
  path: string;
}

export class ProjectIds {
  constructor(private readonly db: MetaDb) {}

  /** Takes an ID no directory of this data-root holds, for `dir` on the filesystem at `mountPoint`. */
  allocate(dir: string, mountPoint: string): number {
    return this.db.transaction(() => {
      const taken = this.db.prepare('SELECT 1 FROM project_quotas WHERE id = ?');
      let id = projectIdCandidate(dir);
      for (let tries = 0; taken.get(id); tries++) {
        if (tries >= RANGE) throw new Error('no project ID left');
        id = FIRST + ((id - FIRST + 1) % RANGE);
      }
      this.db.prepare('INSERT INTO project_quotas (id, mount_point, path) VALUES (?, ?, ?)').run(id, mountPoint, dir);
      return id;
    })();
  }

  /** Records an ID a directory already carries (given before IDs were kept here), so it is never given again. */
  adopt(id: number, mountPoint: string, dir: string): boolean {
    const r = this.db
      .prepare('INSERT OR IGNORE INTO project_quotas (id, mount_point, path) VALUES (?, ?, ?)')
      .run(id, mountPoint, dir);
    return r.changes > 0;
  }

  /** Whether `id` is one this data-root gave out. */
  has(id: number): boolean {
    return this.db.prepare('SELECT 1 FROM project_quotas WHERE id = ?').get(id) !== undefined;
  }

  /** Gives `id` back, once its limit is lifted. */
  release(id: number): void {
    this.db.prepare('DELETE FROM project_quotas WHERE id = ?').run(id);
  }

  all(): ProjectIdRow[] {
    return (
      this.db.prepare('SELECT id, mount_point, path FROM project_quotas ORDER BY id').all() as {
        id: number;
        mount_point: string;
        path: string;
      }[]
    ).map((r) => ({ id: r.id, mountPoint: r.mount_point, path: r.path }));
  }
}
