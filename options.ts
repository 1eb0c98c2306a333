/**
 * Option and result types of `StateManager`.
 *
 * @module
 */
import type { BackendOptions } from "./backends/_locations.ts";
import type { CacheOptions } from "./core/_cache.ts";
import type { RetryOptions } from "./core/_retry.ts";
import type { CheckpointInfo, Head, JsonValue } from "./types.ts";

/**
 * Options of `StateManager.open()`: a backend with its own options (see
 * {@linkcode BackendOptions}) and the manager's settings.
 *
 * @example
 * ```ts
 * import type { OpenOptions } from "./mod.ts";
 *
 * const local: OpenOptions = { backend: "sqlite", path: "state.db", namespace: "wf-1" };
 * const shared: OpenOptions = { backend: "redis", url: "redis://localhost:6379" };
 * // @ts-expect-error url is not an option of the JSON backend
 * const wrong: OpenOptions = { backend: "json", url: "redis://localhost:6379" };
 * ```
 */
export type OpenOptions = BackendOptions & ManagerOptions;

/** The settings of `StateManager.open()` that every backend shares. */
export interface ManagerOptions {
  /** The namespace: letters, digits, ".", "_" and "-". Default "default". */
  namespace?: string;
  /**
   * The read cache; `false` turns it off. On by default, bounded, and never
   * stale: a load never returns a value older than a write that completed,
   * in any process, before the load began (unless `maxStaleMs` says otherwise).
   */
  cache?: CacheOptions | boolean;
  /** How transient faults are retried; `false` turns retries off. */
  retry?: RetryOptions | false;
  /** Keep at most this many automatic checkpoints (older ones are pruned). */
  keepCheckpoints?: number;
  /** Prune automatic checkpoints older than this many ms. */
  maxCheckpointAgeMs?: number;
  /** Let retention prune named checkpoints too. Default false. */
  pruneNamedCheckpoints?: boolean;
  /**
   * Run `recover()` while opening. Without it, opening a namespace whose
   * files are damaged throws StateDamagedError.
   */
  recover?: boolean;
  /** Most attempts `update()` makes when other writers keep winning. Default 1000. */
  maxUpdateAttempts?: number;
}

/** Options of `StateManager.save()` and friends. */
export interface SaveOptions {
  /** Delete the key after this many ms. Default: never. */
  ttlMs?: number;
}

/** A stored value with its version, for optimistic checks. */
export interface Entry<T = JsonValue> {
  /** The key. */
  key: string;
  /** The value. */
  value: T;
  /** The version; pass it to `atomic().check()`. */
  version: string;
  /** Expiry in ms since the epoch, or null. */
  expiresAt: number | null;
}

/** Options of `StateManager.checkpoint()`. */
export interface CheckpointOptions {
  /** Any JSON object stored with the checkpoint. */
  metadata?: Record<string, JsonValue>;
  /** Replace an existing checkpoint of the same name. Default false. */
  overwrite?: boolean;
}

/** Options of `StateManager.restoreCheckpoint()`. */
export interface RestoreCheckpointOptions {
  /**
   * Keys under this prefix keep their live values through the restore (and
   * are not taken from the checkpoint): attempt counters, logs. Atomic with
   * the rest of the restore. The step records under `@ms/keep/` (leases,
   * attempts) are always kept, with or without it.
   */
  keep?: { prefix: string };
}

/** Where a namespace stands: what `StateManager.status()` returns. */
export interface Status {
  /** The namespace. */
  namespace: string;
  /** The backend's name. */
  backend: string;
  /** Live keys. */
  keyCount: number;
  /** The checkpoint last taken or restored, or null. */
  head: Head | null;
  /**
   * Keys added, removed and changed since the head's checkpoint (every key is
   * "added" when there is no head, or its checkpoint was deleted).
   */
  changes: CheckpointDiff;
  /** The newest checkpoint, or null. */
  newest: CheckpointInfo | null;
  /** Whether the newest checkpoint is not on the head's line: a branch was abandoned. */
  abandoned: boolean;
}

/** What changed between two states: key names. */
export interface CheckpointDiff {
  /** Keys only in the newer state. */
  added: string[];
  /** Keys only in the older state. */
  removed: string[];
  /** Keys in both with different values. */
  changed: string[];
}

/**
 * Conditions of a write (`save()`, `saveMany()`, `delete()`): it applies only
 * if they hold; otherwise nothing is written and `CheckFailedError` is thrown.
 */
export interface WriteConditions {
  /** Write only if the key is at this version (`getEntry(key).version`); absent fails too. */
  ifVersion?: string;
  /** Write only if the key does not exist (`saveMany()`: if none of its keys exists). */
  ifAbsent?: boolean;
}

/** Options of `StateManager.update()`. */
export interface UpdateOptions extends SaveOptions {
  /** Resolve to {@linkcode UpdateResult} (the previous value too) instead of the new value. */
  previous?: boolean;
}

/** What `update(key, fn, { previous: true })` resolves to. */
export interface UpdateResult<T = JsonValue> {
  /** The value `fn` was given in the attempt that was committed (undefined: the key was absent). */
  previous: T | undefined;
  /** The value written. */
  value: T;
  /** The key's new version. */
  version: string;
}

/** Options of `StateManager.claim()`. */
export interface ClaimOptions {
  /** The lease ends by itself after this many ms (default: only `release()` ends it). */
  ttlMs?: number;
}

/** A lease taken by `StateManager.claim()`. */
export interface Lease {
  /** The lease's key; its value is the owner. */
  key: string;
  /** Who holds it. */
  owner: string;
  /** The key's version after the claim. */
  version: string;
  /** When the lease ends by itself (ms since the epoch), or null. */
  expiresAt: number | null;
}

/** Options of `StateManager.dump()` and `StateManager.readCheckpoint()`. */
export interface ReadOptions {
  /** Only keys starting with this. */
  prefix?: string;
}

/** What changed between two states, with values. */
export interface ValueDiff {
  /** Keys only in the newer state, with their values. */
  added: Record<string, JsonValue>;
  /** Keys only in the older state, with their values. */
  removed: Record<string, JsonValue>;
  /** Keys in both with different values: old and new. */
  changed: Record<string, { from: JsonValue; to: JsonValue }>;
}
