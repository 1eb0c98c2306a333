// The Redis backend's one error classifier: ioredis errors to BackendErrors
// that say what failed and what to do. Transient: connection loss, timeouts,
// and the server replies LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN, BUSY,
// READONLY, NOREPLICAS, and MOVED/ASK (a Cluster pipeline sent before ioredis
// learnt the new slot owner: nothing ran). Not transient: authentication,
// protocol, scripts.
import { BackendError, StateError } from "../errors.ts";

const TRANSIENT_REPLY =
  /^(LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|BUSY|READONLY|NOREPLICAS|MOVED|ASK)\b/;
const TRANSIENT_NET =
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|timed out|Connection is closed|max retries per request|isn't writeable|isn't ready|startup nodes|refresh slots|ready connection|Socket timeout/i;
const AUTH = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|ERR AUTH/;
const PROTOCOL = /Unknown RESP type|Protocol error|Expected|invalid (bulk|multibulk)/i;
// Refused by the client before anything was written to the socket.
const NOT_SENT = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|isn't writeable|isn't ready/i;

/** Maps an ioredis error to a BackendError that says what failed and what to do. */
export function mapRedisError(
  error: unknown,
  what: string,
  where: string,
  secret: string | undefined,
  lastError?: unknown,
  sent = false,
): StateError {
  if (error instanceof StateError) return error;
  let message = String((error as Error)?.message ?? error);
  // ioredis Cluster errors carry the last node's own error.
  const nodeError = (error as { lastNodeError?: Error } | null)?.lastNodeError;
  if (nodeError?.message) message = `${message}: ${nodeError.message}`;
  // A flushed queue says little; the connection's own error says why.
  const reason = lastError !== undefined && lastError !== error &&
      /max retries per request|Connection is closed|isn't writeable|ready connection/i.test(message)
    ? String((lastError as Error)?.message ?? lastError)
    : message;
  if (reason !== message) message = `${reason} (${message})`;
  else if (/max retries per request/i.test(message)) {
    message = "the connection was lost before the reply arrived (the command may have run)";
  }
  if (secret) message = message.split(secret).join("***");
  let hint: string;
  let transient = false;
  let outcomeUnknown = false;
  if (AUTH.test(reason)) {
    hint = "Check the user name and password in the URL or options";
  } else if (PROTOCOL.test(reason)) {
    hint = "The server did not answer like Redis: check the host and port";
  } else if (TRANSIENT_REPLY.test(reason) || TRANSIENT_NET.test(reason)) {
    transient = true;
    hint = "Check that the server is running and reachable; retrying later may succeed";
    // A server reply (LOADING, BUSY, ...) means the command did not run; a
    // connection lost or timed out after sending leaves it unknown.
    const own = String((error as Error)?.message ?? error);
    outcomeUnknown = sent && !TRANSIENT_REPLY.test(own) && !NOT_SENT.test(own);
    if (outcomeUnknown) hint += " (the command may have run: read before writing again)";
  } else {
    hint = "See the cause for details";
  }
  message = message.replace(/\s*Please report this\.?/, "").replace(/[.\s]+$/, "");
  return new BackendError(`Redis could not ${what} (${where}): ${message}. ${hint}.`, {
    cause: error,
    transient,
    outcomeUnknown,
  });
}
