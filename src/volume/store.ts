// The volume rows and container references in the metadata database.
import type { MetaDb } from '../meta/db.js';

export interface VolumeRow {
  name: string;
  driver: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  createdAt: string;
  anonymous: boolean;
  scope: 'local' | 'global';
}

interface RawRow {
  name: string;
  driver: string;
  labels: string;
  options: string;
  created_at: string;
  anonymous: number;
  scope: string;
}

const fromRaw = (r: RawRow): VolumeRow => ({
  name: r.name,
  driver: r.driver,
  labels: JSON.parse(r.labels) as Record<string, string>,
  options: JSON.parse(r.options) as Record<string, string>,
  createdAt: r.created_at,
  anonymous: r.anonymous === 1,
  scope: r.scope === 'global' ? 'global' : 'local',
});

export class VolumeStore {
  private readonly q;

  constructor(private readonly db: MetaDb) {
    this.q = {
      get: db.prepare('SELECT * FROM volumes WHERE name = ?'),
      all: db.prepare('SELECT * FROM volumes ORDER BY name'),
      insert: db.prepare(
        'INSERT INTO volumes (name, driver, labels, options, created_at, anonymous, scope) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      delete: db.prepare('DELETE FROM volumes WHERE name = ?'),
      users: db.prepare('SELECT container_id FROM volume_refs WHERE volume = ? ORDER BY rowid').pluck(),
      allRefs: db.prepare('SELECT volume, COUNT(*) AS n FROM volume_refs GROUP BY volume'),
      addRef: db.prepare('INSERT OR IGNORE INTO volume_refs (volume, container_id) VALUES (?, ?)'),
      dropRef: db.prepare('DELETE FROM volume_refs WHERE volume = ? AND container_id = ?'),
      addRename: db.prepare('INSERT INTO volume_renames (new_name, old_name) VALUES (?, ?)'),
      dropRename: db.prepare('DELETE FROM volume_renames WHERE new_name = ?'),
      renames: db.prepare('SELECT new_name AS newName, old_name AS oldName FROM volume_renames'),
    };
  }

  /** The row becomes `to` (old row out, new row and the pending move in, in one transaction). */
  beginRename(from: string, to: VolumeRow): void {
    this.db.transaction(() => {
      this.q.delete.run(from);
      this.insert(to);
      this.q.addRename.run(to.name, from);
    })();
  }

  /** The directory has moved: the rename is complete. */
  finishRename(to: string): void {
    this.q.dropRename.run(to);
  }

  /** Puts the old row back when the directory could not be moved. */
  undoRename(from: VolumeRow, to: string): void {
    this.db.transaction(() => {
      this.q.delete.run(to);
      this.insert(from);
      this.q.dropRename.run(to);
    })();
  }

  /** Renames whose directory move may not have happened (a crash in between). */
  pendingRenames(): { newName: string; oldName: string }[] {
    return this.q.renames.all() as { newName: string; oldName: string }[];
  }

  get(name: string): VolumeRow | undefined {
    const r = this.q.get.get(name) as RawRow | undefined;
    return r && fromRaw(r);
  }

  all(): VolumeRow[] {
    return (this.q.all.all() as RawRow[]).map(fromRaw);
  }

  insert(v: VolumeRow): void {
    this.q.insert.run(
      v.name,
      v.driver,
      JSON.stringify(v.labels),
      JSON.stringify(v.options),
      v.createdAt,
      v.anonymous ? 1 : 0,
      v.scope,
    );
  }

  /** Removes the row and, through the foreign key, its references. */
  delete(name: string): void {
    this.q.delete.run(name);
  }

  users(name: string): string[] {
    return this.q.users.all(name) as string[];
  }

  /** Volume name → number of referencing containers, for listing many volumes at once. */
  refCounts(): Map<string, number> {
    return new Map((this.q.allRefs.all() as Array<{ volume: string; n: number }>).map((r) => [r.volume, r.n]));
  }

  addRef(name: string, containerId: string): void {
    this.q.addRef.run(name, containerId);
  }

  dropRef(name: string, containerId: string): void {
    this.q.dropRef.run(name, containerId);
  }
}

/** RFC 3339 at second precision in local time, `Z` for UTC, as Go's time.RFC3339 prints it. */
export function rfc3339Now(d = new Date()): string {
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 19);
  if (off === 0) return local + 'Z';
  const abs = Math.abs(off);
  return `${local}${off > 0 ? '+' : '-'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
