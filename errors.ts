/**
 * Typed errors with stable `code`s. Every error the library throws is a
 * {@linkcode StateError}; callers branch on the subclass or on `code`.
 *
 * @example Catch a missing key
 * ```ts
 * import { KeyNotFoundError, StateManager } from "./mod.ts";
 *
 * await using state = await StateManager.open({ backend: "memory", namespace: "wf-1" });
 * try {
 *   await state.load("phase");
 * } catch (error) {
 *   if (!(error instanceof KeyNotFoundError)) throw error;
 * }
 * ```
 *
 * @module
 */

/** Stable error codes; part of the public contract. */
export type StateErrorCode =
  | "KEY_NOT_FOUND"
  | "CHECKPOINT_NOT_FOUND"
  | "CHECKPOINT_EXISTS"
  | "VALIDATION"
  | "CONFLICT"
  | "BACKEND"
  | "STATE_DAMAGED"
  | "CLOSED"
  | "VERIFICATION";

/** Base class of every error this library throws. */
export class StateError extends Error {
  /** A stable, machine-readable code. */
  readonly code: StateErrorCode;

  /** Creates an error with a stable code. */
  constructor(code: StateErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A key that does not exist (or has expired) was loaded without a default. */
export class KeyNotFoundError extends StateError {
  /** The key that was asked for. */
  readonly key: string;
  /** The namespace that was searched. */
  readonly namespace: string;

  /** Creates the error for `key` in `namespace`. */
  constructor(namespace: string, key: string) {
    super(
      "KEY_NOT_FOUND",
      `Key ${JSON.stringify(key)} not found in namespace ${
        JSON.stringify(namespace)
      }: save it first or pass a default to load()`,
    );
    this.key = key;
    this.namespace = namespace;
  }
}

/** A checkpoint that does not exist was restored, read or deleted. */
export class CheckpointNotFoundError extends StateError {
  /** The checkpoint that was asked for. */
  readonly checkpoint: string;
  /** The namespace that was searched. */
  readonly namespace: string;

  /** Creates the error for `checkpoint` in `namespace`. */
  constructor(namespace: string, checkpoint: string, action = "find") {
    super(
      "CHECKPOINT_NOT_FOUND",
      `Cannot ${action} checkpoint ${JSON.stringify(checkpoint)} in namespace ${
        JSON.stringify(namespace)
      }: not found (listCheckpoints() shows the existing ones)`,
    );
    this.checkpoint = checkpoint;
    this.namespace = namespace;
  }
}

/** A checkpoint name is taken and `overwrite` was not set. */
export class CheckpointExistsError extends StateError {
  /** The checkpoint name that is taken. */
  readonly checkpoint: string;
  /** The namespace it is in. */
  readonly namespace: string;

  /** Creates the error for `checkpoint` in `namespace`. */
  constructor(namespace: string, checkpoint: string) {
    super(
      "CHECKPOINT_EXISTS",
      `Checkpoint ${JSON.stringify(checkpoint)} already exists in namespace ${
        JSON.stringify(namespace)
      }: pick another name or pass { overwrite: true }`,
    );
    this.checkpoint = checkpoint;
    this.namespace = namespace;
  }
}

/** Input was refused before anything was written. */
export class ValidationError extends StateError {
  /** Creates a validation error; the message says what is wrong and where. */
  constructor(message: string, options?: ErrorOptions) {
    super("VALIDATION", message, options);
  }
}

/** An optimistic check failed too often (see `update()`), or a write lost a race. */
export class ConflictError extends StateError {
  /** Creates a conflict error. */
  constructor(message: string, options?: ErrorOptions) {
    super("CONFLICT", message, options);
  }
}

/**
 * A conditional write found the key in another state than it required:
 * `save(key, v, { ifVersion })` and `delete(key, { ifVersion })` when the key
 * is at another version (or absent), `{ ifAbsent: true }` when it exists.
 * Nothing was written.
 */
export class CheckFailedError extends ConflictError {
  /** The first key whose check failed (null when the backend does not say which). */
  readonly key: string | null;
  /** The namespace written to. */
  readonly namespace: string;
  /** The version the write required; null: it required the key to be absent. */
  readonly expected: string | null;

  /** Creates the error for `key` in `namespace`, which was not at `expected` (null: absent). */
  constructor(namespace: string, key: string | null, expected: string | null) {
    super(
      `${key === null ? "A key" : `Key ${JSON.stringify(key)}`} in namespace ${
        JSON.stringify(namespace)
      } ${
        expected === null ? "already exists" : `is no longer at version ${expected}`
      }: nothing was written (read it again and retry)`,
    );
    this.key = key;
    this.namespace = namespace;
    this.expected = expected;
  }
}

/** `claim()` or `release()` of a lease that another owner holds. */
export class LeaseHeldError extends ConflictError {
  /** The lease's key. */
  readonly key: string;
  /** Who holds it. */
  readonly owner: string;

  /** Creates the error for `key`, held by `owner`. */
  constructor(namespace: string, key: string, owner: string, action: "claim" | "release") {
    super(
      `Cannot ${action} ${JSON.stringify(key)} in namespace ${JSON.stringify(namespace)}: ` +
        `${JSON.stringify(owner)} holds it${
          action === "claim" ? " (wait until it is released or expires)" : ""
        }`,
    );
    this.key = key;
    this.owner = owner;
  }
}

/**
 * The storage failed. `transient` faults (busy, connection lost) may be
 * retried. `outcomeUnknown` says the write may have been applied: it was
 * sent, but the storage could not confirm it (its reply was lost, or with the
 * Redis `durability` option the primary applied it but too few replicas
 * acknowledged it in time; that one is not transient, so the manager does not
 * retry it). The two are independent: the manager retries only what is
 * `transient`, and a retry carries the same request id, so it is never
 * applied twice. After an outcome-unknown error, read the state to see what
 * landed; otherwise a failed write changed nothing.
 *
 * @example Tell "not written" from "maybe written"
 * ```ts
 * import { BackendError } from "./errors.ts";
 *
 * const error = new BackendError("reply lost", { transient: true, outcomeUnknown: true });
 * if (error.outcomeUnknown) {
 *   // load() the key before deciding to write it again
 * }
 * ```
 */
export class BackendError extends StateError {
  /** Whether retrying the same operation later may succeed. */
  readonly transient: boolean;
  /** Whether a write may have been applied although it failed (its reply was lost or unconfirmed). */
  readonly outcomeUnknown: boolean;

  /** Creates a backend error; `cause` should carry the driver's error. */
  constructor(
    message: string,
    options: ErrorOptions & { transient?: boolean; outcomeUnknown?: boolean } = {},
  ) {
    super("BACKEND", message, options);
    this.transient = options.transient ?? false;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
  }
}

/** Stored data cannot be read; `recover()` repairs it. */
export class StateDamagedError extends StateError {
  /** Creates the error; the message names the damaged file or record. */
  constructor(message: string, options?: ErrorOptions) {
    super("STATE_DAMAGED", message, options);
  }
}

/** The manager or backend was used after `close()`. */
export class ClosedError extends StateError {
  /** Creates the error. */
  constructor() {
    super("CLOSED", "The state manager is closed: open a new one");
  }
}
