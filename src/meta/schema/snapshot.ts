// Tables owned by the snapshot room.
//
// One row per snapshot of one storage driver. `key` is the caller's name for it (an active or
// view key, or a committed name) and may be any string; the directory on disk is
// snapshots/<driver>/<id>, named by the numeric `id`, so a commit (key → name) renames the row
// only. `parent_id` points at a committed row; the foreign key makes removing a parent that
// still has children fail inside SQLite too.
import type { Migration } from './migration.js';

export const snapshotMigrations: Migration[] = [
  {
    id: 'snapshot-0001-snapshots',
    sql: `
      CREATE TABLE snapshots (
        id        INTEGER PRIMARY KEY,
        driver    TEXT    NOT NULL,
        key       TEXT    NOT NULL,
        kind      TEXT    NOT NULL CHECK (kind IN ('view', 'active', 'committed')),
        parent_id INTEGER REFERENCES snapshots(id),
        labels    TEXT    NOT NULL DEFAULT '{}',
        created   INTEGER NOT NULL,
        UNIQUE (driver, key)
      );
      CREATE INDEX snapshots_parent ON snapshots(parent_id);
    `,
  },
  {
    // A committed snapshot never changes, so its usage is measured once and kept with it (as
    // containerd's overlay keeps it): the first df after a restart walks no layer again.
    id: 'snapshot-0002-committed-usage',
    sql: `
      ALTER TABLE snapshots ADD COLUMN size INTEGER;
      ALTER TABLE snapshots ADD COLUMN inodes INTEGER;
    `,
  },
];
