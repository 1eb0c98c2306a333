/**
 * The backend contract. A backend stores encoded values (JSON text) with a
 * version per key; the {@linkcode StateManager} does validation, encoding,
 * caching, retries and read-modify-write on top, the same for every backend.
 *
 * Every method takes the namespace explicitly, so one backend instance can
 * serve many namespaces (migration and `listNamespaces()` need that).
 *
 * @module
 */

/** A JSON value: what can be saved. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** One stored key as the backend holds it. */
export interface StoredEntry {
  /** The key. */
  key: string;
  /** The value as JSON text. */
  value: string;
  /** Opaque version: the id of the commit that wrote it; never reused. */
  version: string;
  /** Expiry time in ms since the epoch, or null for no expiry. */
  expiresAt: number | null;
}

/** A version check: the commit fails unless `key` is at `version` (null: must not exist). */
export interface Check {
  /** The key to check. */
  key: string;
  /** The expected version, or null when the key must be absent. */
  version: string | null;
}

/** One key to write in a commit; its version is the commit's `version`. */
export interface SetOp {
  /** The key. */
  key: string;
  /** The value as JSON text. */
  value: string;
  /** Expiry time in ms since the epoch, or null for no expiry. */
  expiresAt: number | null;
}

/**
 * An atomic commit: all checks pass and all writes apply, or nothing does.
 * A commit whose checks fail records nothing (its retry is evaluated afresh).
 */
export interface CommitOp {
  /** The request id (see {@linkcode Backend}): the same on every retry of one commit. */
  id: string;
  /** The version every key in `sets` gets; unique per commit (the manager uses the id). */
  version: string;
  /** Version checks; any failure aborts the commit. */
  checks: Check[];
  /** Keys to write. */
  sets: SetOp[];
  /** Keys to delete (absent keys are fine). */
  deletes: string[];
}

/** What a commit returns. */
export type CommitResult = { ok: true; version: string } | { ok: false };

/** Paging options for listing keys; keys come in ascending UTF-8 byte order. */
export interface ListOptions {
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** Only keys after this cursor (the last key of the previous page). */
  cursor?: string;
  /** At most this many keys. */
  limit?: number;
}

/** One page of keys. */
export interface KeyPage {
  /** The keys, in ascending UTF-8 byte order. */
  keys: string[];
  /** Pass as `cursor` to get the next page; null when there is none. */
  cursor: string | null;
}

/** How long applied request ids are kept per namespace: at least the newest `count` and all younger than `ms`. */
export const REQUEST_WINDOW: { readonly count: number; readonly ms: number } = {
  count: 1000,
  ms: 10 * 60 * 1000,
};

/** What is known about a checkpoint. */
export interface CheckpointInfo {
  /** The checkpoint's name. */
  name: string;
  /** When it was taken (ms since the epoch). */
  createdAt: number;
  /** How many keys it holds. */
  keyCount: number;
  /** The total size in bytes of its keys and values as stored (UTF-8). */
  bytes: number;
  /** Whether the name was generated (retention prunes only these by default). */
  auto: boolean;
  /** Caller-supplied metadata. */
  metadata: Record<string, JsonValue>;
  /** The namespace's head when it was taken (its lineage parent), or null for the first. */
  parent: string | null;
}

/**
 * A namespace's head: the checkpoint it last took or restored, and when.
 * Writes after it make the live state differ from it; `status()` tells how.
 */
export interface Head {
  /** The checkpoint's name. */
  name: string;
  /** Whether it was taken or restored. */
  via: "checkpoint" | "restore";
  /** When, in ms since the epoch. */
  at: number;
}

/** What a backend needs to take a checkpoint. */
export interface CheckpointRequest {
  /** The checkpoint's name (validated). */
  name: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Whether the name was generated. */
  auto: boolean;
  /** Caller metadata. */
  metadata: Record<string, JsonValue>;
  /** Replace an existing checkpoint of the same name. */
  overwrite: boolean;
  /** The request id: the same on every retry of one checkpoint. */
  id: string;
}

/** What identifies a mutating request other than a commit: its id, reused on every retry. */
export interface RequestOptions {
  /** The request id. */
  id: string;
}

/** What a backend needs to restore a checkpoint. */
export interface RestoreOptions extends RequestOptions {
  /**
   * Keys under any of these prefixes keep their live values and are not taken
   * from the checkpoint. The manager always passes the step records' prefix
   * (`@ms/keep/`), plus the caller's own when given; prefixes may overlap.
   */
  keep?: { prefixes: string[] };
}

/** What a backend declares it can do; the conformance suite reads this. */
export interface BackendCapabilities {
  /** Data survives closing and reopening the backend. */
  persistent: boolean;
  /** Several OS processes may use the same storage at once. */
  multiProcess: boolean;
  /**
   * A fresh `get()` costs about what checking the change token costs, so a
   * never-stale cache cannot make loads faster: the JSON backend answers from
   * its own coherent in-process copy; Redis Cluster and remote Deno KV pay
   * one round trip either way. The manager then skips its cache unless the caller opts into
   * bounded staleness (`cache: { maxStaleMs }`), which does save the trip.
   */
  freshReadsAreCheap?: boolean;
  /**
   * The retry policy a manager uses when opened without `retry`: for a
   * backend whose transient faults come often under contention (Deno KV's
   * "database is locked" with several processes on one file).
   */
  retry?: {
    attempts?: number;
    baseDelayMs?: number;
    maxDelayMs?: number;
    timeoutMs?: number;
  };
}

/** What `recover()` did. */
export interface RecoveryReport {
  /** One line per action taken, e.g. "removed stale lock held by pid 123". */
  actions: string[];
  /** Files moved aside because they were damaged (never deleted). */
  quarantined: string[];
  /** Whether the namespace is readable now. */
  ok: boolean;
  /** What a repair could not carry over (SQLite rebuilds a damaged file; it covers every namespace). */
  lost?: LostData;
}

/** A primary key of a row the SQLite repair could not read: its column values in order. */
export type RowKey = (string | number | null)[];

/** What a repair of a damaged database could not read, by name. */
export interface LostData {
  /** Keys whose value could not be read. */
  keys: { namespace: string; key: string }[];
  /** Keys of checkpoints that could not be read. */
  checkpointKeys: { namespace: string; checkpoint: string; key: string }[];
  /** Checkpoints whose details (time, metadata) could not be read. */
  checkpoints: { namespace: string; checkpoint: string }[];
  /** Rows of other tables that could not be read. */
  rows: { table: string; key: RowKey }[];
  /**
   * Where rows and every copy of their names were unreadable together: rows
   * of `table` between the two keys (exclusive; null: the start or the end)
   * may be lost without a name.
   */
  ranges: { table: string; after: RowKey | null; before: RowKey | null }[];
  /** Rows carried over whose key the name index does not hold: the key itself may be damaged. */
  unverified: { table: string; key: RowKey }[];
}

/** What a backend's push feed says changed in a namespace. */
export interface ChangeHint {
  /** Keys that may have changed; absent when any key may have (clear, restore, reconnect). */
  keys?: string[];
}

/** A running push feed from {@linkcode Backend.watch}. */
export interface ChangeFeed {
  /** Resolves once every change made from then on will be reported (e.g. SUBSCRIBE confirmed). */
  ready: Promise<void>;
  /** Stops the feed and releases its connection. */
  close(): Promise<void>;
}

/**
 * The contract every backend implements. Methods throw {@linkcode StateError}s
 * (native driver errors are mapped at this boundary).
 *
 * Request ids make every mutating call exactly-once: `commit`, `checkpoint`,
 * `restore`, `deleteCheckpoint` and `clear` carry an id that the manager
 * generates once per logical request and reuses on every retry. The backend
 * records the id as applied atomically with the change (same transaction,
 * Lua script, Deno KV commit or journal record). A call whose id is already
 * recorded applies nothing and returns the success it would have returned:
 * a commit `{ ok: true, version }`, a checkpoint the existing info (never
 * CheckpointExistsError), a restore or delete `true`. So after a lost reply
 * the retry answers "did it land?" by the id, never by a key's version.
 * Window: each namespace keeps at least its newest
 * {@linkcode REQUEST_WINDOW}`.count` ids and every id younger than
 * `REQUEST_WINDOW.ms`; older ones are pruned now and then.
 */
export interface Backend {
  /** Short name: "memory", "json", "sqlite", "redis", "kv". */
  readonly name: string;
  /** What this backend can do. */
  readonly capabilities: BackendCapabilities;

  /** Reads keys; a missing or expired key is null. Same order as `keys`. */
  get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]>;
  /** Applies a commit atomically. */
  commit(ns: string, op: CommitOp): Promise<CommitResult>;
  /** Lists live keys in ascending UTF-8 byte order. */
  list(ns: string, options: ListOptions): Promise<KeyPage>;

  /**
   * Takes an atomic snapshot of the namespace. Throws CheckpointExistsError
   * when the name is taken and `overwrite` is false (checked atomically),
   * unless `request.id` is already recorded: then it returns the info of the
   * checkpoint of that name as it is. Atomically with the snapshot, the new
   * info's `parent` is the head's name and the head becomes
   * `{ name, via: "checkpoint", at: createdAt }`.
   */
  checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo>;
  /** Lists checkpoints, newest first. */
  listCheckpoints(ns: string): Promise<CheckpointInfo[]>;
  /** Reads a checkpoint's entries in ascending UTF-8 byte order of key, or null when it does not exist. */
  readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null>;
  /**
   * Makes the namespace exactly the checkpoint, atomically; false if it does
   * not exist. Every restored key gets a fresh version (the request id), so a
   * version is never reused. Keys under any of `options.keep.prefixes` keep
   * their live values (checkpoint entries under them are not taken), in the
   * same atomic step. The head becomes
   * `{ name, via: "restore" }` in the same step. True when `options.id` is
   * already recorded.
   */
  restore(ns: string, name: string, options: RestoreOptions): Promise<boolean>;
  /** Deletes a checkpoint; false if it did not exist. True when `options.id` is already recorded. */
  deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean>;

  /**
   * Writes a checkpoint with the given info and entries as they are
   * (versions and expiry times kept; entries already expired may be left
   * out), replacing one of the same name; `keyCount` and `bytes` are counted
   * from `entries`, `parent` is kept as given. The live keys and the head are
   * not touched. Migration and import use it.
   */
  importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void>;

  /** Namespaces that hold keys or checkpoints. */
  namespaces(): Promise<string[]>;
  /** Deletes every key and checkpoint and the head of the namespace (the record of request ids stays). */
  clear(ns: string, options: RequestOptions): Promise<void>;
  /** The namespace's head, or null (never took or restored a checkpoint, or cleared since). */
  head(ns: string): Promise<Head | null>;
  /** Sets (or with null removes) the head as it is, for migration and import. */
  importHead(ns: string, head: Head | null): Promise<void>;
  /**
   * A cheap token that changes whenever the namespace may have changed, in
   * any process, and never returns to an earlier value. The manager reads it
   * before every cached read (its cache drops everything when it moves) and
   * polls it for `watch()`. Backends without one are not cached.
   *
   * The contract is coherence: a token read after a write completed (in any
   * process) differs from every token read before that write. Examples:
   * SQLite's `PRAGMA data_version` plus this connection's commits; a counter
   * the JSON backend bumps when its stat of the journal shows a change. A
   * backend fed by push invalidations (Redis client tracking, `kv.watch()`)
   * may answer from memory, provided that it first makes sure every
   * invalidation sent before the call has arrived (for example a PING on the
   * invalidation connection) and that it returns a fresh, never-repeating
   * token whenever that feed is down or reconnecting.
   */
  changeToken?(ns: string): Promise<string>;
  /**
   * Optional push feed of changes to a namespace made by any process; the
   * manager's `watch()` uses it to react at once instead of waiting for its
   * next poll of `changeToken()`. Hints may come late, coalesced, or for
   * keys that did not change: the manager re-reads the watched keys and
   * reports what really changed. A hint must never be lost: when the feed
   * may have missed changes (a reconnect, a FLUSHDB, a restore) it sends a
   * hint without keys. Redis: keyspace notifications or client tracking on
   * the namespace's prefix; Deno KV: `kv.watch()` on a key every commit of
   * the namespace writes; PostgreSQL (implemented): `LISTEN`/`NOTIFY`.
   */
  watch?(ns: string, onChange: (hint: ChangeHint) => void): ChangeFeed;
  /** Repairs what a crashed process left behind. */
  recover?(ns: string): Promise<RecoveryReport>;
  /** Releases files and connections. */
  close(): Promise<void>;
}
