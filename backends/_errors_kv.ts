// The Deno KV backend's one error classifier. Transient: "database is
// locked" (a local file written by several processes; the call did not
// happen), network faults to a KV Connect server, and the backend's own
// contention (a namespace that kept changing, a lock lease taken over).
// Nothing else is retried.
import { BackendError, StateError } from "../errors.ts";

/** Whether a Deno KV error says the database was locked (the call did not happen). */
export function isBusy(error: unknown): boolean {
  return /\bdatabase (table )?is locked\b|SQLITE_BUSY/i.test(String(error));
}

/** Maps a Deno KV error to a StateError; "database is locked" and network faults are transient. */
export function mapKvError(error: unknown, what: string): StateError {
  if (error instanceof StateError) return error;
  const message = String((error as Error)?.message ?? error);
  const transient = isBusy(error) ||
    /connection|network|timed? ?out|ECONN|EPIPE|socket|503|502|unavailable/i.test(message);
  return new BackendError(
    `Deno KV could not ${what}: ${message}${
      transient ? " (a transient fault: retrying may help)" : ""
    }`,
    { cause: error, transient },
  );
}

/** The backend's own contention (other writers kept winning): transient, retried by the manager. */
export function contention(message: string): BackendError {
  return new BackendError(message, { transient: true });
}
