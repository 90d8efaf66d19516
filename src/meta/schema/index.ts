// Every room's migrations, applied in this order. A migration's id never changes once
// released; add new ones at the end of a room's list.
import { imageMigrations } from './image.js';
import { snapshotMigrations } from './snapshot.js';
import { containerMigrations } from './container.js';
import { volumeMigrations } from './volume.js';

export interface Migration {
  id: string;
  sql: string;
}

export const migrations: Migration[] = [
  ...snapshotMigrations,
  ...imageMigrations,
  ...containerMigrations,
  ...volumeMigrations,
];
