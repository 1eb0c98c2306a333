// The one error classifier of the PostgreSQL backend: maps node-postgres and
// socket errors to BackendError, transient where retrying the same call later
// may succeed. Messages say what failed, where (the URL without its
// password) and what to do; the password never appears.
import { BackendError, StateError } from "../errors.ts";
import { beforeSending } from "./_pg_pool.ts";

/**
 * SQLSTATEs worth retrying: the transaction lost a race (40001 serialization
 * failure, 40P01 deadlock), the server is starting, stopping or crashed
 * (57P01-57P03), is out of connections or resources (53xxx), or the
 * connection broke (class 08). Everything else (syntax, permissions, auth,
 * missing database, data errors) fails at once.
 */
const TRANSIENT_STATES = new Set(["40001", "40P01", "57P01", "57P02", "57P03", "55P03"]);
const TRANSIENT_CLASSES = ["08", "53"];

/** Socket-level failures and node-postgres' own messages for a lost or absent connection. */
const TRANSIENT_NET =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|Connection terminated|connection timeout|timeout exceeded when trying to connect|timeout expired|Query read timeout|not queryable|Connection refused|the database system is (starting up|shutting down|in recovery mode)/i;

/**
 * Transient failures that leave no doubt the statement did not run: no
 * connection was made, or the server refused it (a lost race, no room). Any
 * other transient failure (the connection broke or timed out while waiting
 * for the reply) leaves a write's outcome unknown.
 */
const NOT_APPLIED_STATES = new Set(["40001", "40P01", "55P03", "57P03"]);
const NOT_SENT =
  /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|connection timeout|timeout exceeded when trying to connect|timeout expired|not queryable|Connection refused|the database system is (starting up|shutting down|in recovery mode)|pool was ended/i;

const HINTS: Record<string, string> = {
  "28P01": "Check the user name and password in the URL or the PG* variables",
  "28000": "Check the user name and pg_hba.conf: the server refused this login",
  "3D000": "Create the database first (createdb) or fix its name in the URL",
  "42501": "Grant the user CREATE on the database (or create the schema for it) and USAGE on it",
};

/** Whether a pg (or socket) error is worth retrying. */
export function isTransientPg(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
    return TRANSIENT_STATES.has(code) || TRANSIENT_CLASSES.includes(code.slice(0, 2));
  }
  return TRANSIENT_NET.test(`${String(code ?? "")} ${messageOf(error)}`);
}

function messageOf(error: unknown): string {
  const e = error as { message?: unknown; errors?: unknown[] } | null;
  const own = String(e?.message ?? error);
  // Node's AggregateError (every address refused) has an empty message.
  if (own === "" && Array.isArray(e?.errors)) return e.errors.map(messageOf).join("; ");
  return own;
}

/** Maps an error from `pg` to a StateError saying what failed, on what, and what to do. */
export function mapPgError(
  error: unknown,
  what: string,
  where: string,
  secret: string | undefined,
): StateError {
  if (error instanceof StateError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  let message = messageOf(error).replace(/[.\s]+$/, "") || "unknown error";
  if (typeof code === "string" && !message.includes(code)) message += ` [${code}]`;
  if (secret) message = message.split(secret).join("***");
  const transient = isTransientPg(error);
  const serverSaid = typeof code === "string" && /^[0-9A-Z]{5}$/.test(code);
  const outcomeUnknown = transient && !beforeSending.has(error as object) &&
    (serverSaid
      ? !NOT_APPLIED_STATES.has(code) && !code.startsWith("53")
      : !NOT_SENT.test(`${String(code ?? "")} ${messageOf(error)}`));
  let hint = (typeof code === "string" ? HINTS[code] : undefined) ??
    (transient
      ? "Check that the server is running and reachable; retrying later may succeed"
      : "See the cause for details");
  if (outcomeUnknown) hint += " (the statement may have run: read before writing again)";
  return new BackendError(`PostgreSQL could not ${what} (${where}): ${message}. ${hint}.`, {
    cause: error,
    transient,
    outcomeUnknown,
  });
}
