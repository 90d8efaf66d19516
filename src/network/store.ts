// The networks table: records in memory, every change written through to SQLite.
import type { MetaDb } from '../meta/db.js';
import type { NetworkRecord } from './types.js';

export class NetworkStore {
  private readonly byId = new Map<string, NetworkRecord>();

  constructor(private readonly db: MetaDb) {
    for (const r of db.prepare('SELECT record FROM networks ORDER BY created').all() as { record: string }[]) {
      const n = JSON.parse(r.record) as NetworkRecord;
      this.byId.set(n.Id, n);
    }
  }

  all(): NetworkRecord[] {
    return [...this.byId.values()];
  }

  /** Docker's lookup order: full ID, exact name, then a unique ID prefix. */
  find(ref: string): NetworkRecord | undefined {
    if (!ref) return undefined;
    const exact = this.byId.get(ref);
    if (exact) return exact;
    for (const n of this.byId.values()) if (n.Name === ref) return n;
    const matches = [...this.byId.values()].filter((n) => n.Id.startsWith(ref));
    return matches.length === 1 ? matches[0] : undefined;
  }

  byName(name: string): NetworkRecord | undefined {
    for (const n of this.byId.values()) if (n.Name === name) return n;
    return undefined;
  }

  save(n: NetworkRecord): void {
    this.db
      .prepare(
        'INSERT INTO networks (id, name, created, record) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, record = excluded.record',
      )
      .run(n.Id, n.Name, n.Created, JSON.stringify(n));
    this.byId.set(n.Id, n);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(id);
    this.byId.delete(id);
  }
}
