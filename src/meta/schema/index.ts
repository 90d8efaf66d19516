// Every room's migrations, applied in this order. A migration's id never changes once
// released; add new ones at the end of a room's list.
import { imageMigrations } from './image.js';
import { snapshotMigrations } from './snapshot.js';
import { containerMigrations } from './container.js';
import { volumeMigrations } from './volume.js';
import { daemonMigrations } from './daemon.js';
import { distributionMigrations } from './distribution.js';
import { networkMigrations } from './network.js';
import { systemMigrations } from './system.js';

import type { Migration } from './migration.js';

export type { Migration } from './migration.js';

export const migrations: Migration[] = [
  ...daemonMigrations,
  ...snapshotMigrations,
  ...imageMigrations,
  ...containerMigrations,
  ...volumeMigrations,
  ...distributionMigrations,
  ...networkMigrations,
  ...systemMigrations,
];
