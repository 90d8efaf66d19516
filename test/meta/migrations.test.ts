// Migrations: every pending one is applied in a single transaction, so a failure (or a crash)
// part-way leaves the schema exactly as it was, and a fresh database gets them all at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations, openMetaDb } from '../../src/meta/db.js';
import { migrations } from '../../src/meta/schema/index.js';

function tempDb(): { db: Database.Database; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-migrate-'));
  const db = new Database(path.join(dir, 'm.db'));
  db.pragma('journal_mode = WAL');
  return { db, dir };
}

const tables = (db: Database.Database) =>
  db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];

test('a migration that fails leaves none of the pending ones applied', () => {
  const { db, dir } = tempDb();
  try {
    applyMigrations(db, [{ id: 'one', sql: 'CREATE TABLE one (id INTEGER PRIMARY KEY)' }]);
    assert.deepEqual(tables(db), ['migrations', 'one']);
    assert.throws(
      () =>
        applyMigrations(db, [
          { id: 'one', sql: 'CREATE TABLE one (id INTEGER PRIMARY KEY)' },
          { id: 'two', sql: 'CREATE TABLE two (id INTEGER PRIMARY KEY)' },
          { id: 'three', sql: 'CREATE TABLE three (id INTEGER PRIMARY KEY); INSERT INTO nowhere VALUES (1)' },
        ]),
      /no such table: nowhere/,
    );
    assert.deepEqual(tables(db), ['migrations', 'one'], 'two and three rolled back together');
    assert.deepEqual(db.prepare('SELECT id FROM migrations').pluck().all(), ['one']);
    // Fixed, the next start applies both.
    applyMigrations(db, [
      { id: 'one', sql: 'CREATE TABLE one (id INTEGER PRIMARY KEY)' },
      { id: 'two', sql: 'CREATE TABLE two (id INTEGER PRIMARY KEY)' },
      { id: 'three', sql: 'CREATE TABLE three (id INTEGER PRIMARY KEY)' },
    ]);
    assert.deepEqual(tables(db), ['migrations', 'one', 'three', 'two']);
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh database records every migration, and opening it again applies nothing', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-migrate-'));
  try {
    const file = path.join(dir, 'm.db');
    let db = openMetaDb(file);
    const ids = db.prepare('SELECT id FROM migrations ORDER BY rowid').pluck().all();
    assert.deepEqual(
      ids,
      migrations.map((m) => m.id),
    );
    db.close();
    db = openMetaDb(file);
    assert.equal(db.prepare('SELECT count(*) FROM migrations').pluck().get(), migrations.length);
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
