// Tables owned by the system room. `project_quotas` holds every project ID this data-root has
// given a directory (a volume's _data, a writable layer) for a size limit: an ID is taken here
// before any directory carries it and dropped only once its limit is lifted, so two
// directories never share a limit and startup can lift the limits whose directory is gone.
import type { Migration } from './migration.js';

export const systemMigrations: Migration[] = [
  {
    id: 'system-001-project-quotas',
    sql: `
      CREATE TABLE project_quotas (
        id          INTEGER PRIMARY KEY,
        mount_point TEXT NOT NULL,
        path        TEXT NOT NULL
      );
    `,
  },
];
