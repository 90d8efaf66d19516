// Tables owned by the container room. A container is one row: its name is unique (Docker's
// name reservation), its full record (Config, HostConfig, State, mounts) is JSON, rewritten on
// every state change, so a restarted daemon knows every container and its last exit code.
import type { Migration } from './migration.js';

export const containerMigrations: Migration[] = [
  {
    id: 'container-001-containers',
    sql: `CREATE TABLE containers (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      image_id TEXT NOT NULL,
      created TEXT NOT NULL,
      record TEXT NOT NULL
    )`,
  },
];
