// The container table: records in memory for fast lookups, every change written through to
// SQLite before the API answers.
import type { MetaDb } from '../meta/db.js';
import { Conflict, NotFound } from '../errors.js';
import type { ContainerRecord } from './types.js';

export class ContainerStore {
  private readonly byId = new Map<string, ContainerRecord>();

  constructor(private readonly db: MetaDb) {
    const rows = db.prepare('SELECT record FROM containers ORDER BY created').all() as { record: string }[];
    for (const r of rows) {
      const rec = JSON.parse(r.record) as ContainerRecord;
      this.byId.set(rec.id, rec);
    }
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** Full ID, name (with or without "/"), or unique ID prefix, as Docker looks containers up. */
  find(ref: string): ContainerRecord | undefined {
    if (!ref) return undefined;
    const exact = this.byId.get(ref);
    if (exact) return exact;
    const name = ref.startsWith('/') ? ref.slice(1) : ref;
    for (const c of this.byId.values()) if (c.name === name) return c;
    const linked = this.byLinkName(name);
    if (linked) return linked;
    const matches = [...this.byId.values()].filter((c) => c.id.startsWith(ref));
    if (matches.length > 1) throw new NotFound(`No such container: ${ref}`);
    return matches[0];
  }

  get(ref: string): ContainerRecord {
    const c = this.find(ref);
    if (!c) throw new NotFound(`No such container: ${ref}`);
    return c;
  }

  /** `parent/alias`: the container a legacy link names (stored as "/child:/parent/alias"). */
  private byLinkName(name: string): ContainerRecord | undefined {
    const slash = name.indexOf('/');
    if (slash <= 0) return undefined;
    const parent = this.byName(name.slice(0, slash));
    const suffix = `:/${name}`;
    const link = ((parent?.hostConfig.Links ?? []) as string[]).find((l) => l.endsWith(suffix));
    return link ? this.byName(link.slice(1, link.length - suffix.length)) : undefined;
  }

  byName(name: string): ContainerRecord | undefined {
    for (const c of this.byId.values()) if (c.name === name) return c;
    return undefined;
  }

  insert(rec: ContainerRecord): void {
    const other = this.byName(rec.name);
    if (other) throw nameConflict(rec.name, other.id);
    this.db
      .prepare('INSERT INTO containers (id, name, image_id, created, record) VALUES (?, ?, ?, ?, ?)')
      .run(rec.id, rec.name, rec.imageId, rec.created, JSON.stringify(rec));
    this.byId.set(rec.id, rec);
  }

  save(rec: ContainerRecord): void {
    if (!this.byId.has(rec.id)) return;
    this.db
      .prepare('UPDATE containers SET name = ?, record = ? WHERE id = ?')
      .run(rec.name, JSON.stringify(rec), rec.id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    this.byId.delete(id);
  }
}

export function nameConflict(name: string, id: string): Conflict {
  return new Conflict(
    `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}
