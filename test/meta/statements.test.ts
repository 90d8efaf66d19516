// The metadata database compiles each SQL text once: the same statement comes back, with the
// result mode a previous caller set (pluck, raw) reset, and a statement still iterating is
// not handed out again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openMetaDb } from '../../src/meta/db.js';

test('prepared statements are kept by SQL text, modes reset, busy ones not shared', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-meta-'));
  const db = openMetaDb(path.join(dir, 'm.db'));
  try {
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)');
    db.prepare('INSERT INTO t (name) VALUES (?)').run('a');
    db.prepare('INSERT INTO t (name) VALUES (?)').run('b');
    const sql = 'SELECT name FROM t ORDER BY id';
    assert.equal(db.prepare(sql), db.prepare(sql), 'compiled once');
    assert.deepEqual(db.prepare(sql).pluck().all(), ['a', 'b']);
    assert.deepEqual(db.prepare(sql).all(), [{ name: 'a' }, { name: 'b' }], 'pluck does not stick');
    assert.deepEqual(db.prepare(sql).raw().all(), [['a'], ['b']]);
    assert.deepEqual(db.prepare(sql).get(), { name: 'a' }, 'raw does not stick');
    const seen: string[] = [];
    for (const row of db.prepare(sql).iterate() as Iterable<{ name: string }>) {
      // The same SQL while the first statement is still iterating.
      seen.push(`${row.name}:${(db.prepare(sql).all() as unknown[]).length}`);
    }
    assert.deepEqual(seen, ['a:2', 'b:2']);
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
