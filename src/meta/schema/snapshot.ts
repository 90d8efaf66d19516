// Tables owned by the snapshot room.
import type { Migration } from './index.js';

export const snapshotMigrations: Migration[] = [];
