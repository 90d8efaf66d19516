// Snapshot metadata for one driver, over the `snapshots` table (src/meta/schema/snapshot.ts):
// what exists, its kind, its parent chain and labels. Directories are the drivers' business.
import type { MetaDb } from '../meta/db.js';
import type { SnapshotInfo, SnapshotKind } from './snapshotter.js';
import { Conflict, InvalidParameter, NotFound } from '../errors.js';

export interface SnapshotRow {
  id: number;
  key: string;
  kind: SnapshotKind;
  parentId: number | null;
  labels: Record<string, string>;
  created: number;
  /** Kept usage of a committed snapshot, once measured. */
  usage?: { size: number; inodes: number };
}

interface RawRow {
  id: number;
  key: string;
  kind: SnapshotKind;
  parent_id: number | null;
  labels: string;
  created: number;
  size: number | null;
  inodes: number | null;
}

const toRow = (r: RawRow): SnapshotRow => ({
  id: r.id,
  key: r.key,
  kind: r.kind,
  parentId: r.parent_id,
  labels: JSON.parse(r.labels) as Record<string, string>,
  created: r.created,
  ...(r.kind === 'committed' && r.size !== null && r.inodes !== null
    ? { usage: { size: r.size, inodes: r.inodes } }
    : {}),
});

export class SnapshotStore {
  constructor(
    private readonly db: MetaDb,
    readonly driver: string,
  ) {}

  find(key: string): SnapshotRow | undefined {
    const r = this.db.prepare('SELECT * FROM snapshots WHERE driver = ? AND key = ?').get(this.driver, key) as
      RawRow | undefined;
    return r && toRow(r);
  }

  get(key: string): SnapshotRow {
    const row = this.find(key);
    if (!row) throw new NotFound(`snapshot ${key} does not exist: not found`);
    return row;
  }

  byId(id: number): SnapshotRow {
    const r = this.db.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as RawRow | undefined;
    if (!r) throw new NotFound(`snapshot with id ${id} does not exist: not found`);
    return toRow(r);
  }

  /** The parent chain of a snapshot, nearest first (the overlay lowerdir order). */
  parents(row: SnapshotRow): SnapshotRow[] {
    const chain: SnapshotRow[] = [];
    for (let id = row.parentId; id !== null;) {
      const p = this.byId(id);
      chain.push(p);
      id = p.parentId;
    }
    return chain;
  }

  /** A committed snapshot that `key` may be created on; NotFound / InvalidParameter otherwise. */
  parentFor(parent: string | undefined): SnapshotRow | undefined {
    if (parent === undefined || parent === '') return undefined;
    const row = this.find(parent);
    if (!row) throw new NotFound(`parent snapshot ${parent} does not exist: not found`);
    if (row.kind !== 'committed')
      throw new InvalidParameter(`parent ${parent} is not committed snapshot: invalid argument`);
    return row;
  }

  assertFree(key: string): void {
    if (key === '') throw new InvalidParameter('snapshot key must not be empty: invalid argument');
    if (this.find(key)) throw new Conflict(`snapshot ${key}: already exists`);
  }

  /** Inserts a row whose directory the caller has already created; Conflict if the key was taken meanwhile. */
  insert(row: Omit<SnapshotRow, 'created'>): SnapshotRow {
    const created = Date.now();
    this.db.transaction(() => {
      this.assertFree(row.key);
      if (row.parentId !== null) {
        const p = this.byId(row.parentId);
        if (p.kind !== 'committed')
          throw new InvalidParameter(`parent ${p.key} is not committed snapshot: invalid argument`);
      }
      this.db
        .prepare(
          'INSERT INTO snapshots (id, driver, key, kind, parent_id, labels, created) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(row.id, this.driver, row.key, row.kind, row.parentId, JSON.stringify(row.labels), created);
    })();
    return { ...row, created };
  }

  /**
   * Renames an active snapshot into a committed one, in one transaction; `parent` places one
   * prepared without a parent (and with no children) on that committed snapshot.
   */
  commit(
    name: string,
    key: string,
    labels?: Record<string, string>,
    parent?: string,
    usage?: { size: number; inodes: number },
  ): SnapshotRow {
    return this.db.transaction(() => {
      const row = this.get(key);
      if (row.kind !== 'active')
        throw new InvalidParameter(`snapshot ${key} is not an active snapshot: failed precondition`);
      if (name === '') throw new InvalidParameter('snapshot name must not be empty: invalid argument');
      if (this.find(name)) throw new Conflict(`snapshot ${name}: already exists`);
      let parentId = row.parentId;
      if (parent !== undefined) {
        if (row.parentId !== null || this.hasChildren(row.id))
          throw new InvalidParameter(`snapshot ${key} already has a parent or children: failed precondition`);
        parentId = this.parentFor(parent)?.id ?? null;
      }
      const newLabels = labels ?? row.labels;
      this.db
        .prepare(
          "UPDATE snapshots SET key = ?, kind = 'committed', labels = ?, created = ?, parent_id = ?, size = COALESCE(?, size), inodes = COALESCE(?, inodes) WHERE id = ?",
        )
        .run(name, JSON.stringify(newLabels), Date.now(), parentId, usage?.size ?? null, usage?.inodes ?? null, row.id);
      return this.get(name);
    })();
  }

  /** Keeps the measured usage of a committed snapshot (it never changes afterwards). */
  keepUsage(id: number, usage: { size: number; inodes: number }): void {
    this.db
      .prepare("UPDATE snapshots SET size = ?, inodes = ? WHERE id = ? AND kind = 'committed'")
      .run(usage.size, usage.inodes, id);
  }

  hasChildren(id: number): boolean {
    return this.db.prepare('SELECT 1 FROM snapshots WHERE parent_id = ? LIMIT 1').get(id) !== undefined;
  }

  /** Deletes the row; Conflict if other snapshots are built on it. */
  delete(key: string): SnapshotRow {
    return this.db.transaction(() => {
      const row = this.get(key);
      if (this.hasChildren(row.id)) throw new Conflict(`cannot remove snapshot ${key} with child: failed precondition`);
      this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(row.id);
      return row;
    })();
  }

  all(): SnapshotRow[] {
    return (this.db.prepare('SELECT * FROM snapshots WHERE driver = ? ORDER BY id').all(this.driver) as RawRow[]).map(
      toRow,
    );
  }

  /** The highest id any driver used, so new directories never reuse a number. */
  maxId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) FROM snapshots').pluck().get() as number) ?? 0;
  }

  info(row: SnapshotRow): SnapshotInfo {
    const info: SnapshotInfo = { name: row.key, kind: row.kind, labels: row.labels, created: row.created };
    if (row.parentId !== null) info.parent = this.byId(row.parentId).key;
    return info;
  }
}
