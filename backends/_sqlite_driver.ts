// What the SQLite backend needs from a driver (node:sqlite, @db/sqlite and
// better-sqlite3 all fit), and how their errors map to ours.
import { BackendError, StateDamagedError, StateError } from "../errors.ts";

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

/** Maps a driver error to a StateError; busy/locked are transient. */
export function mapError(error: unknown, what: string): StateError {
  if (error instanceof StateError) return error;
  const e = error as { message?: string; errcode?: number; code?: string };
  const message = String(e?.message ?? error);
  const busy = e?.errcode === 5 || e?.errcode === 6 ||
    /SQLITE_BUSY|SQLITE_LOCKED/.test(String(e?.code)) ||
    /database is locked|database table is locked|busy/i.test(message);
  if (e?.errcode === 11 || e?.errcode === 26 || /malformed|not a database/i.test(message)) {
    return new StateDamagedError(
      `SQLite could not ${what}: ${message}. The database file is damaged: restore it from a ` +
        `backup or an export (SQLite repairs interrupted writes itself; this is other damage)`,
      { cause: error },
    );
  }
  return new BackendError(
    `SQLite could not ${what}: ${message}${
      busy ? " (another process holds the lock; retrying may help)" : ""
    }`,
    { cause: error, transient: busy },
  );
}
