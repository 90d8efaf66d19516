// The "incomplete" mark of a multi-step operation (as containers/storage flags a layer
// `incomplete` until it is whole): written before the operation's first step, so that after a
// crash recovery needs one rule only: whatever is still marked at startup is rolled back (or,
// for a removal, finished). The mark never decides anything while the daemon runs, except
// that `system check` leaves marked objects alone: they are being made right now.
import type { MetaDb } from './db.js';

export interface IncompleteMark<D> {
  kind: string;
  key: string;
  /** Unix milliseconds. */
  started: number;
  detail: D;
}

export class Incomplete {
  constructor(private readonly db: MetaDb) {}

  /** Marks `kind`/`key` as under way; replaces an older mark of the same operation. */
  begin<D>(kind: string, key: string, detail: D): void {
    this.db
      .prepare('INSERT OR REPLACE INTO incomplete (kind, key, started, detail) VALUES (?, ?, ?, ?)')
      .run(kind, key, Date.now(), JSON.stringify(detail));
  }

  /** Records what the operation has made so far (what a rollback must undo). */
  note<D>(kind: string, key: string, detail: D): void {
    this.db
      .prepare('UPDATE incomplete SET detail = ? WHERE kind = ? AND key = ?')
      .run(JSON.stringify(detail), kind, key);
  }

  /** The operation is whole (or fully undone). Call inside the transaction of its last step where there is one. */
  end(kind: string, key: string): void {
    this.db.prepare('DELETE FROM incomplete WHERE kind = ? AND key = ?').run(kind, key);
  }

  has(kind: string, key: string): boolean {
    return this.db.prepare('SELECT 1 FROM incomplete WHERE kind = ? AND key = ?').get(kind, key) !== undefined;
  }

  list<D>(kind: string): IncompleteMark<D>[] {
    const rows = this.db
      .prepare('SELECT kind, key, started, detail FROM incomplete WHERE kind = ? ORDER BY started')
      .all(kind) as { kind: string; key: string; started: number; detail: string }[];
    return rows.map((r) => ({ kind: r.kind, key: r.key, started: r.started, detail: JSON.parse(r.detail) as D }));
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
