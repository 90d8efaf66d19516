// Tables owned by the network room: one row per network (built-in and user-defined), its
// record (driver, IPAM, options, labels) as JSON. Endpoints are not stored: they exist only
// while a container runs, and are rebuilt from the containers' records.
import type { Migration } from './migration.js';

export const networkMigrations: Migration[] = [
  {
    id: 'network-001-networks',
    sql: `CREATE TABLE networks (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      created TEXT NOT NULL,
      record TEXT NOT NULL
    )`,
  },
];
