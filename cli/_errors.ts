// What the CLI prints for an error, and its exit code. Library errors carry
// hints in library terms (`{ overwrite: true }`, `recover()`); here they are
// said in the CLI's own terms (`--overwrite`, "recover"), so a shell user
// never has to translate.
import {
  BackendError,
  CheckFailedError,
  CheckpointExistsError,
  CheckpointNotFoundError,
  ConflictError,
  KeyNotFoundError,
  LeaseHeldError,
  StateError,
} from "../errors.ts";
import { canCheckProcesses } from "./_platform.ts";
import { EXIT, UsageError } from "./_usage.ts";

/** Something the CLI looked for and did not find (exit 3), such as a key in a checkpoint. */
export class NotFoundError extends Error {
  /** Creates the error; the message says what is missing and how to list what exists. */
  constructor(message: string) {
    super(message);
    this.name = "NotFoundError";
  }
}

/** Library phrases and what a CLI user types instead. */
const CLI_TERMS: [RegExp, string][] = [
  [/run recover\(\) \(CLI: "recover"\)/g, 'run "recover"'],
  [/recover\(\)/g, '"recover"'],
  [/pass \{ overwrite: true \}/g, "add --overwrite"],
  [/Run again with overwrite/g, "Run again with --overwrite"],
  [/\s*\(or raise maxUpdateAttempts\)/g, ""],
  [/\(listCheckpoints\(\) shows the existing ones\)/g, '(run "checkpoints" to list them)'],
];

/** The one line the CLI prints for `error` (without "error: "). */
export function describeError(error: unknown): string {
  if (error instanceof KeyNotFoundError) {
    return `Key ${JSON.stringify(error.key)} not found in namespace ${
      JSON.stringify(error.namespace)
    }. Run "keys" to list keys.`;
  }
  if (error instanceof CheckpointNotFoundError) {
    return `${error.message.split(" (")[0]}. Run "checkpoints" to list them.`;
  }
  if (error instanceof CheckpointExistsError) {
    return `Checkpoint ${JSON.stringify(error.checkpoint)} already exists in namespace ${
      JSON.stringify(error.namespace)
    }: pick another --name or add --overwrite`;
  }
  if (error instanceof CheckFailedError) {
    const what = error.expected === null
      ? "already exists"
      : `is no longer at version ${error.expected}`;
    const key = error.key === null ? "" : ` --key ${shellWord(error.key)}`;
    return `${error.key === null ? "A key" : `Key ${JSON.stringify(error.key)}`} in namespace ${
      JSON.stringify(error.namespace)
    } ${what}: nothing was written. Run "load${key} --with-version" to see it now`;
  }
  if (error instanceof LeaseHeldError) return error.message;
  if (
    error instanceof BackendError && /waiting for the lock/.test(error.message) &&
    !canCheckProcesses()
  ) {
    return `${cliTerms(error.message)}. Deno did not allow checking whether that process is ` +
      `alive: add --allow-run, or wait, since a lock is broken a minute after it was taken`;
  }
  if (isPermissionError(error)) {
    return `${(error as Error).message.split("\n")[0]} (the "cli" task grants access to ` +
      `.claude/ only: see "Permissions" in the README)`;
  }
  return cliTerms(error instanceof Error ? error.message : String(error));
}

/** `text` with library phrases replaced by CLI ones. */
export function cliTerms(text: string): string {
  return CLI_TERMS.reduce((t, [pattern, replacement]) => t.replace(pattern, replacement), text);
}

/** A word as a shell reads it: quoted unless it is plainly safe. */
function shellWord(text: string): string {
  return /^[\w.:/@%+=,-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Whether Deno refused a permission (NotCapable in Deno 2, PermissionDenied before). */
function isPermissionError(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e.name === "NotCapable" || e.name === "PermissionDenied") return true;
  }
  return false;
}

/** The exit code for an error. */
export function exitCode(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (
    error instanceof KeyNotFoundError || error instanceof CheckpointNotFoundError ||
    error instanceof NotFoundError
  ) {
    return EXIT.notFound;
  }
  if (error instanceof ConflictError || error instanceof CheckpointExistsError) {
    return EXIT.conflict;
  }
  if (error instanceof StateError && error.code === "VALIDATION") return EXIT.usage;
  // The write was sent but not confirmed: a caller must read before writing again.
  if (error instanceof BackendError && error.outcomeUnknown) return EXIT.unknown;
  return EXIT.error;
}
