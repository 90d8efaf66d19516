// Tables owned by the daemon itself: settings that must survive restarts (its ID), and the
// marks of multi-step operations under way (see src/meta/incomplete.ts).
import type { Migration } from './migration.js';

export const daemonMigrations: Migration[] = [
  { id: 'daemon-1', sql: 'CREATE TABLE IF NOT EXISTS daemon (key TEXT PRIMARY KEY, value TEXT NOT NULL)' },
  {
    // One row per operation that has started and not finished: written before its first step,
    // dropped in the same transaction as its last. `detail` is what rolling back needs to know
    // (JSON), kept current as the operation makes things.
    id: 'daemon-2-incomplete',
    sql: `CREATE TABLE incomplete (
      kind    TEXT NOT NULL,
      key     TEXT NOT NULL,
      started INTEGER NOT NULL,
      detail  TEXT NOT NULL DEFAULT '{}',
      PRIMARY KEY (kind, key)
    )`,
  },
];
