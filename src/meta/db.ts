// The metadata database: SQLite in WAL mode with synchronous=FULL, so a committed row is on
// disk before the API answers. Each room owns its tables in src/meta/schema/<room>.ts; this
// file only opens the database and applies every room's migrations in order.
import Database from 'better-sqlite3';
import { migrations, type Migration } from './schema/index.js';

export type MetaDb = Database.Database;

export function openMetaDb(file: string): MetaDb {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  applyMigrations(db);
  cacheStatements(db);
  return db;
}

/**
 * Every room prepares its SQL where it runs it (`db.prepare(sql).get(...)`): compiling the
 * same statement again on every call was most of a `system df`'s time with a few hundred
 * containers (several lookups per container). Statements are kept per SQL text and handed
 * back with their result modes reset; one still busy (an iterate() in progress) is not
 * shared, a fresh one is compiled instead.
 */
const STATEMENTS_KEPT = 2000;

function cacheStatements(db: MetaDb): void {
  const compile = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    const kept = cache.get(sql);
    if (kept && !kept.busy) {
      if (kept.reader) kept.raw(false).pluck(false).expand(false);
      return kept;
    }
    const fresh = compile(sql);
    // Bounded: SQL built with a varying number of placeholders must not grow it forever.
    if (!kept && cache.size < STATEMENTS_KEPT) cache.set(sql, fresh);
    return fresh;
  }) as MetaDb['prepare'];
}

/**
 * Every pending migration is applied in one transaction: a fresh data-root has all of them
 * pending, and a commit per migration cost a WAL sync each (a dozen, 35-45 ms of a cold start
 * on ext4, against 5 for one commit). A crash or a failing migration leaves none of them
 * applied, so the next start finds the schema as it was and tries again.
 */
export function applyMigrations(db: MetaDb, list: readonly Migration[] = migrations): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const applied = new Set(db.prepare('SELECT id FROM migrations').pluck().all() as string[]);
    for (const m of list) {
      if (applied.has(m.id)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO migrations (id, applied_at) VALUES (?, ?)').run(m.id, Date.now());
    }
  })();
}
