// The JSON backend's one error classifier: file system errors to
// StateErrors. Transient: EBUSY, EAGAIN, EMFILE, ENFILE (the OS is briefly
// out of something), and the backend's own contention (a lock held past its
// timeout, a namespace folder that kept changing while read). Nothing else
// is retried.
import { BackendError, StateError } from "../errors.ts";

const TRANSIENT_CODES = new Set(["EBUSY", "EAGAIN", "EMFILE", "ENFILE"]);

/** Maps a file system error to a StateError. */
export function mapFileError(error: unknown, what: string): StateError {
  if (error instanceof StateError) return error;
  const code = (error as { code?: string })?.code;
  return new BackendError(`Could not ${what}: ${(error as Error)?.message ?? error}`, {
    cause: error,
    transient: code !== undefined && TRANSIENT_CODES.has(code),
  });
}

/** The backend's own contention (a lock or a folder other writers kept): transient. */
export function contention(message: string): BackendError {
  return new BackendError(message, { transient: true });
}
