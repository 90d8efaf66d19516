// The metadata database: SQLite in WAL mode with synchronous=FULL, so a committed row is on
// disk before the API answers. Each room owns its tables in src/meta/schema/<room>.ts; this
// file only opens the database and applies every room's migrations in order.
import Database from 'better-sqlite3';
import { migrations } from './schema/index.js';

export type MetaDb = Database.Database;

export function openMetaDb(file: string): MetaDb {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: MetaDb): void {
  db.exec('CREATE TABLE IF NOT EXISTS migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(db.prepare('SELECT id FROM migrations').pluck().all() as string[]);
  for (const m of migrations) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO migrations (id, applied_at) VALUES (?, ?)').run(m.id, Date.now());
    })();
  }
}
