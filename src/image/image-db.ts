// Rows of the image tables (images, image_refs): the only place that writes them.
import type { MetaDb } from '../meta/db.js';

export interface ImageRow {
  id: string;
  config: Buffer;
  parent: string;
  topChainID: string | null;
  size: number;
  created: number;
  lastTagTime: string;
}

interface RawRow {
  id: string;
  config: Buffer;
  parent: string;
  top_chain_id: string | null;
  size: number;
  created: number;
  last_tag_time: string;
}

const toRow = (r: RawRow): ImageRow => ({
  id: r.id,
  config: r.config,
  parent: r.parent,
  topChainID: r.top_chain_id,
  size: r.size,
  created: r.created,
  lastTagTime: r.last_tag_time,
});

export class ImageDb {
  constructor(readonly db: MetaDb) {}

  get(id: string): ImageRow | undefined {
    const r = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as RawRow | undefined;
    return r && toRow(r);
  }

  all(): ImageRow[] {
    return (this.db.prepare('SELECT * FROM images').all() as RawRow[]).map(toRow);
  }

  ids(): string[] {
    return this.db.prepare('SELECT id FROM images').pluck().all() as string[];
  }

  insert(row: ImageRow): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO images (id, config, parent, top_chain_id, size, created, last_tag_time)
      VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(row.id, row.config, row.parent, row.topChainID, row.size, row.created, row.lastTagTime);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM image_refs WHERE image_id = ?').run(id);
    this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
  }

  children(id: string): string[] {
    return this.db.prepare('SELECT id FROM images WHERE parent = ?').pluck().all(id) as string[];
  }

  refsOf(id: string): string[] {
    return this.db.prepare('SELECT ref FROM image_refs WHERE image_id = ? ORDER BY ref').pluck().all(id) as string[];
  }

  allRefs(): { ref: string; imageId: string }[] {
    return (
      this.db.prepare('SELECT ref, image_id FROM image_refs ORDER BY created, ref').all() as {
        ref: string;
        image_id: string;
      }[]
    ).map((r) => ({ ref: r.ref, imageId: r.image_id }));
  }

  lookupRef(ref: string): string | undefined {
    return this.db.prepare('SELECT image_id FROM image_refs WHERE ref = ?').pluck().get(ref) as string | undefined;
  }

  /** Points `ref` at `id`; returns the image it pointed at before, if another. */
  setRef(ref: string, id: string, lastTagTime?: string): string | undefined {
    const old = this.lookupRef(ref);
    if (old === id) return undefined;
    this.db
      .prepare(
        'INSERT INTO image_refs (ref, image_id, created) VALUES (?, ?, ?) ON CONFLICT(ref) DO UPDATE SET image_id = excluded.image_id, created = excluded.created',
      )
      .run(ref, id, Date.now());
    if (lastTagTime) this.db.prepare('UPDATE images SET last_tag_time = ? WHERE id = ?').run(lastTagTime, id);
    return old;
  }

  deleteRef(ref: string): void {
    this.db.prepare('DELETE FROM image_refs WHERE ref = ?').run(ref);
  }

  /** Every chainID some image's layers are built from (its top layer and all below). */
  referencedChainIDs(): Set<string> {
    const rows = this.db
      .prepare(
        `
      WITH RECURSIVE chain(id) AS (
        SELECT top_chain_id FROM images WHERE top_chain_id IS NOT NULL
        UNION SELECT l.parent FROM image_layers l JOIN chain c ON l.chain_id = c.id WHERE l.parent IS NOT NULL
      ) SELECT id FROM chain`,
      )
      .pluck()
      .all() as string[];
    return new Set(rows);
  }
}
