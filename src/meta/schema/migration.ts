// One schema change: an id that never changes once released, and the SQL that makes it.
export interface Migration {
  id: string;
  sql: string;
}
