// What the SQLite backend needs from a driver (node:sqlite, @db/sqlite and
// better-sqlite3 all fit). Their errors are classified in _errors_sqlite.ts.

/** A prepared statement, as node:sqlite, @db/sqlite and better-sqlite3 provide it. */
export interface SqliteStatement {
  /** Runs it; the return value is not used (drivers differ). */
  run(...params: SqliteParam[]): unknown;
  /** The first row, or undefined. */
  get(...params: SqliteParam[]): unknown;
  /** All rows. */
  all(...params: SqliteParam[]): unknown[];
}

/** A parameter value. */
export type SqliteParam = string | number | null;

/** The part of a SQLite driver's database object this backend uses. */
export interface SqliteDatabase {
  /** Runs SQL without results. */
  exec(sql: string): unknown;
  /** Prepares a statement. */
  prepare(sql: string): SqliteStatement;
  /** Closes the database. */
  close(): unknown;
}
