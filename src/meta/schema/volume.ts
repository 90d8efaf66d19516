// Tables owned by the volume room. `volumes` is the source of truth for which volumes exist
// (the directories under <data-root>/volumes follow it); `volume_refs` records which containers
// use a volume, so `volume rm` refuses and prune skips it across daemon restarts.
import type { Migration } from './migration.js';

export const volumeMigrations: Migration[] = [
  {
    id: 'volume-001-volumes',
    sql: `
      CREATE TABLE volumes (
        name       TEXT PRIMARY KEY,
        driver     TEXT NOT NULL,
        labels     TEXT NOT NULL DEFAULT '{}',
        options    TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        anonymous  INTEGER NOT NULL DEFAULT 0,
        scope      TEXT NOT NULL DEFAULT 'local'
      );
      CREATE TABLE volume_refs (
        volume       TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,
        container_id TEXT NOT NULL,
        PRIMARY KEY (volume, container_id)
      );
      CREATE INDEX volume_refs_container ON volume_refs(container_id);
    `,
  },
  {
    // A rename commits the row under its new name together with a line here, then moves the
    // directory, then drops the line: a line found at startup is a move to finish.
    id: 'volume-002-renames',
    sql: `
      CREATE TABLE volume_renames (
        new_name TEXT PRIMARY KEY,
        old_name TEXT NOT NULL
      );
    `,
  },
];
