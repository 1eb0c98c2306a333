// The SQLite backend's one error classifier: driver errors (node:sqlite,
// @db/sqlite, better-sqlite3) to StateErrors. Transient, by result code:
// SQLITE_BUSY (5) and SQLITE_LOCKED (6), or their messages; damage:
// SQLITE_CORRUPT (11) and SQLITE_NOTADB (26). Nothing else is retried.
import { BackendError, StateDamagedError, StateError } from "../errors.ts";

/** Maps a driver error to a StateError; busy and locked are transient. */
export function mapSqliteError(error: unknown, what: string): StateError {
  if (error instanceof StateError) return error;
  const e = error as { message?: string; errcode?: number; code?: string };
  const message = String(e?.message ?? error);
  // errcode: node:sqlite; code: better-sqlite3; the message: drivers that give neither.
  const busy = e?.errcode === 5 || e?.errcode === 6 ||
    /^SQLITE_(BUSY|LOCKED)/.test(String(e?.code)) ||
    /\bdatabase (table )?is locked\b/i.test(message);
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
