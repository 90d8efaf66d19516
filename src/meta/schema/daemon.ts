// Tables owned by the daemon itself: settings that must survive restarts (its ID).
import type { Migration } from './migration.js';

export const daemonMigrations: Migration[] = [
  { id: 'daemon-1', sql: 'CREATE TABLE IF NOT EXISTS daemon (key TEXT PRIMARY KEY, value TEXT NOT NULL)' },
];
