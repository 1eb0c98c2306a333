/**
 * The PostgreSQL backend, on node-postgres (`pg` 8, an optional peer: only
 * this module loads it). Every operation is one statement, so one
 * transaction and one round trip; writers of one namespace take turns on a
 * row lock, so version checks, checkpoints and restores are exact. Keys sort
 * in byte order (`COLLATE "C"`), as on every other backend. Changes are
 * pushed with `LISTEN`/`NOTIFY`: they feed `watch()` at once and keep the
 * never-stale read cache valid (see `_pg_feed.ts` for how). Tables live in
 * one schema (default `managing_state`), created on first use; the layout is
 * documented in `references/backends.md`.
 *
 * Nothing connects until the first operation.
 *
 * @example Open by name (the URL defaults to `DATABASE_URL`, then the PG* variables)
 * ```ts ignore
 * import { StateManager } from "@adw/managing-state";
 *
 * await using state = await StateManager.open({
 *   backend: "postgres",
 *   namespace: "workflow-123",
 *   url: "postgres://app:secret@127.0.0.1:5432/app",
 * });
 * await state.save("current_phase", "building");
 * ```
 *
 * @example Construct a backend (connects lazily)
 * ```ts
 * import { PostgresBackend } from "./postgres.ts";
 *
 * const backend = new PostgresBackend({ url: "postgres://127.0.0.1:5432/app", schema: "state" });
 * await backend.close();
 * ```
 *
 * @module
 */
import { compareKeys, prefixEnd } from "../core/_keys.ts";
import { validateNamespace } from "../core/_validate.ts";
import { CheckpointExistsError, ClosedError } from "../errors.ts";
import type {
  Backend,
  BackendCapabilities,
  ChangeFeed,
  ChangeHint,
  CheckpointInfo,
  CheckpointRequest,
  CommitOp,
  CommitResult,
  Head,
  KeyPage,
  ListOptions,
  RecoveryReport,
  RequestOptions,
  RestoreOptions,
  StoredEntry,
} from "../types.ts";
import { REQUEST_WINDOW } from "../types.ts";
import { type Connection, DEFAULT_SCHEMA, openConnection, validateSchema } from "./_pg_connect.ts";
import type { PostgresBackendOptions } from "./_pg_options.ts";
import { mapPgError } from "./_pg_errors.ts";
import { ListenFeed } from "./_pg_feed.ts";
import { ensureSchema } from "./_pg_schema.ts";
import { commitStatement, type Row, shortHash, sqlState, toEntry, toInfo } from "./_pg_rows.ts";
import { CONFLICT_STATE, EXISTS_STATE, MISSING_STATE, statements } from "./_pg_sql.ts";

export type { PgPool, PostgresBackendOptions } from "./_pg_options.ts";

/** Each statement with the name node-postgres prepares it under. */
type Configs = Record<keyof ReturnType<typeof statements>, { name: string; text: string }>;

/**
 * Stores namespaces in PostgreSQL. Safe for many processes and machines at once.
 *
 * @example
 * ```ts
 * import { StateManager } from "../mod.ts";
 * import { PostgresBackend } from "./postgres.ts";
 *
 * const backend = new PostgresBackend({ url: "postgres://127.0.0.1:5432/app" });
 * const state = await StateManager.open({ backend, namespace: "workflow-123" });
 * await state.close();
 * await backend.close();
 * ```
 */
export class PostgresBackend implements Backend {
  /** Always "postgres". */
  readonly name = "postgres";
  /** Persistent and shared by many processes. */
  readonly capabilities: BackendCapabilities = { persistent: true, multiProcess: true };
  readonly #conn: Connection;
  readonly #schema: string;
  readonly #feed: ListenFeed;
  readonly #configs: Configs;
  readonly #validated = new Set<string>();
  #ready: Promise<void> | undefined;
  #schemaReady = false;
  #records = 0;
  readonly #inflight = new Set<Promise<unknown>>();
  #closed = false;

  /** Creates the backend; nothing connects until the first operation. */
  constructor(options: PostgresBackendOptions = {}) {
    this.#schema = validateSchema(options.schema ?? DEFAULT_SCHEMA);
    this.#conn = openConnection(options);
    // Prepared statement names are cut at 63 bytes by the server: name them by a short hash of
    // the schema, so that two schemas on one connection never share a name.
    const tag = shortHash(this.#schema);
    this.#configs = Object.fromEntries(
      Object.entries(statements(this.#schema)).map((
        [name, text],
      ) => [name, { name: `ms_${tag}_${name}`, text }]),
    ) as Configs;
    this.#feed = new ListenFeed(this.#conn.newClient, this.#schema);
  }

  /**
   * Runs one statement (named: prepared once per connection) after the schema is in place.
   * After close() it refuses, unless `started` says it belongs to a call made before.
   */
  #query(
    what: string,
    name: keyof ReturnType<typeof statements>,
    values: unknown[],
    started = false,
  ): Promise<Row[]> {
    if (this.#closed && !started) return Promise.reject(new ClosedError());
    return this.#track(this.#send(what, name, values));
  }

  async #send(what: string, name: keyof ReturnType<typeof statements>, values: unknown[]) {
    try {
      // Skip the extra await on the hot path once the schema is known to be in place.
      if (!this.#schemaReady) await this.#ensureSchema();
      const result = await this.#conn.pool.query({ ...this.#configs[name], values });
      return result.rows;
    } catch (error) {
      throw mapPgError(error, what, this.#conn.where, this.#conn.secret);
    }
  }

  /** Remembers a call in flight until it settles: close() waits for it. */
  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inflight.add(promise);
    const done = () => this.#inflight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  #ensureSchema(): Promise<void> {
    this.#ready ??= ensureSchema(this.#conn.pool, this.#schema).then(
      () => void (this.#schemaReady = true),
      (error) => {
        this.#ready = undefined; // the next call tries again
        throw error;
      },
    );
    return this.#ready;
  }

  #ns(ns: string): string {
    if (!this.#validated.has(ns)) {
      validateNamespace(ns); // whoever passed it: a migration source may be hostile
      if (this.#validated.size >= 10_000) this.#validated.clear();
      this.#validated.add(ns);
    }
    return ns;
  }

  /** Reads keys in one SELECT; missing or expired ones are null. */
  async get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    this.#ns(ns);
    if (keys.length === 0) return [];
    const what = `read keys of namespace "${ns}"`;
    if (keys.length === 1) {
      const key = keys[0]!;
      const rows = await this.#query(what, "getOne", [ns, key, Date.now()]);
      return [rows[0] ? toEntry(key, rows[0]) : null];
    }
    const rows = await this.#query(what, "get", [ns, keys, Date.now()]);
    const byKey = new Map(rows.map((r) => [r.key as string, toEntry(r.key as string, r)]));
    return keys.map((key) => byKey.get(key) ?? null);
  }

  /**
   * Records the id, checks versions and writes, in one statement (one transaction): the
   * common save as a plain statement, an update() step by `ms_commit1`, the rest by `ms_commit`.
   */
  async commit(ns: string, op: CommitOp): Promise<CommitResult> {
    this.#ns(ns);
    const now = Date.now();
    const { name, values } = commitStatement(ns, op, now);
    const result = await this.#checked(ns, op.version, name, values);
    if (result.ok) this.#recorded(ns, now);
    return result;
  }

  /** Runs a commit statement; a failed version check (SQLSTATE MSC01) is `{ ok: false }`. */
  async #checked(
    ns: string,
    version: string,
    name: "save" | "commit" | "commit1",
    values: unknown[],
  ): Promise<CommitResult> {
    try {
      await this.#query(`write to namespace "${ns}"`, name, values);
    } catch (error) {
      if (sqlState(error) === CONFLICT_STATE) return { ok: false };
      throw error;
    }
    return { ok: true, version };
  }

  /**
   * Counts recorded request ids; every 256th prunes the namespace's old ones, in the
   * background (a failure there only leaves more ids for the next time).
   */
  #recorded(ns: string, now: number): void {
    if (++this.#records % 256 !== 0) return;
    this.#query(`prune request ids of namespace "${ns}"`, "prune", [
      ns,
      now - REQUEST_WINDOW.ms,
      REQUEST_WINDOW.count,
    ]).catch(() => {});
  }

  /** Lists live keys in byte order with keyset paging. */
  async list(ns: string, options: ListOptions): Promise<KeyPage> {
    this.#ns(ns);
    const prefix = options.prefix ?? "";
    const after = options.cursor !== undefined && compareKeys(options.cursor, prefix) >= 0;
    const limit = options.limit;
    const rows = await this.#query(`list keys of namespace "${ns}"`, "list", [
      ns,
      Date.now(),
      after ? options.cursor : prefix,
      !after,
      prefixEnd(prefix),
      limit === undefined ? null : limit + 1,
    ]);
    const keys = rows.map((r) => r.key as string);
    if (limit === undefined || keys.length <= limit) return { keys, cursor: null };
    const page = keys.slice(0, limit);
    return { keys: page, cursor: page[page.length - 1]! };
  }

  /**
   * Copies the live keys into the checkpoint tables (`INSERT ... SELECT`), records the id and
   * moves the head, in one transaction.
   */
  async checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    this.#ns(ns);
    const what = `take checkpoint "${request.name}" of namespace "${ns}"`;
    const now = Date.now();
    let row: Row | undefined;
    try {
      [row] = await this.#query(what, "checkpoint", [
        ns,
        request.id,
        request.name,
        request.createdAt,
        request.auto,
        JSON.stringify(request.metadata),
        request.overwrite,
        now,
      ]);
    } catch (error) {
      if (sqlState(error) === EXISTS_STATE) throw new CheckpointExistsError(ns, request.name);
      throw error;
    }
    this.#recorded(ns, now);
    const base = {
      name: request.name,
      createdAt: request.createdAt,
      auto: request.auto,
      metadata: structuredClone(request.metadata),
    };
    if (row?.status === "applied") {
      // A retry of a checkpoint that was taken: its info as it is (or, deleted since, the request's).
      const [info] = await this.#query(what, "checkpointInfo", [ns, request.name], true);
      return info ? toInfo(info) : { ...base, keyCount: 0, bytes: 0, parent: null };
    }
    return {
      ...base,
      keyCount: Number(row?.key_count),
      bytes: Number(row?.bytes),
      parent: (row?.parent as string | null) ?? null,
    };
  }

  /** Lists checkpoints, newest first. */
  async listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    this.#ns(ns);
    const rows = await this.#query(`list checkpoints of namespace "${ns}"`, "listCheckpoints", [
      ns,
    ]);
    return rows.map(toInfo);
  }

  /** Reads a checkpoint's entries in key order (one statement, one snapshot). */
  async readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    this.#ns(ns);
    const rows = await this.#query(
      `read checkpoint "${name}" of namespace "${ns}"`,
      "readCheckpoint",
      [ns, name],
    );
    if (rows.length === 0) return null;
    return rows.filter((r) => r.key !== null).map((r) => toEntry(r.key as string, r));
  }

  /**
   * Makes the namespace exactly the checkpoint (keys under `keep.prefixes` excepted), with the
   * request id as every restored key's version, and moves the head, in one transaction.
   */
  async restore(ns: string, name: string, options: RestoreOptions): Promise<boolean> {
    this.#ns(ns);
    const now = Date.now();
    try {
      await this.#query(`restore checkpoint "${name}" of namespace "${ns}"`, "restore", [
        ns,
        options.id,
        name,
        now,
        options.keep?.prefixes ?? [],
      ]);
    } catch (error) {
      if (sqlState(error) === MISSING_STATE) return false;
      throw error;
    }
    this.#recorded(ns, now);
    return true;
  }

  /** Deletes a checkpoint (the head stays as it is). */
  async deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean> {
    this.#ns(ns);
    const now = Date.now();
    try {
      await this.#query(
        `delete checkpoint "${name}" of namespace "${ns}"`,
        "deleteCheckpoint",
        [ns, options.id, name, now],
      );
    } catch (error) {
      if (sqlState(error) === MISSING_STATE) return false;
      throw error;
    }
    this.#recorded(ns, now);
    return true;
  }

  /** Writes a checkpoint from given entries in one transaction (migration and import). */
  async importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    this.#ns(ns);
    // Last entry of a key wins (a primary key row cannot be inserted twice).
    const unique = [...new Map(entries.map((e) => [e.key, e])).values()];
    await this.#query(
      `import checkpoint "${info.name}" of namespace "${ns}"`,
      "importCheckpoint",
      [
        ns,
        info.name,
        info.createdAt,
        info.auto,
        JSON.stringify(info.metadata),
        info.parent,
        unique.map((e) => e.key),
        unique.map((e) => e.value),
        unique.map((e) => e.version),
        unique.map((e) => e.expiresAt),
      ],
    );
  }

  /** Namespaces with live keys or checkpoints, in byte order. */
  async namespaces(): Promise<string[]> {
    const rows = await this.#query("list namespaces", "namespaces", [Date.now()]);
    return rows.map((r) => r.ns as string);
  }

  /** Deletes every key and checkpoint and the head of the namespace, in one transaction. */
  async clear(ns: string, options: RequestOptions): Promise<void> {
    this.#ns(ns);
    const now = Date.now();
    await this.#query(`clear namespace "${ns}"`, "clear", [ns, options.id, now]);
    this.#recorded(ns, now);
  }

  /** The checkpoint the namespace last took or restored. */
  async head(ns: string): Promise<Head | null> {
    this.#ns(ns);
    const [row] = await this.#query(`read the head of namespace "${ns}"`, "head", [ns]);
    return row
      ? { name: row.name as string, via: row.via as Head["via"], at: Number(row.at) }
      : null;
  }

  /** Sets (or removes) the head as given. */
  async importHead(ns: string, head: Head | null): Promise<void> {
    this.#ns(ns);
    await this.#query(`import the head of namespace "${ns}"`, "importHead", [
      ns,
      head?.name ?? null,
      head?.via ?? null,
      head?.at ?? null,
    ]);
  }

  /** The namespace's change counter as pushed by NOTIFY, proven current by one round trip. */
  changeToken(ns: string): Promise<string> {
    this.#ns(ns);
    if (this.#closed) return Promise.reject(new ClosedError());
    return this.#track((async () => {
      try {
        // The schema (and so the functions sending NOTIFY) exists before anyone listens.
        if (!this.#schemaReady) await this.#ensureSchema();
        return await this.#feed.token(ns);
      } catch (error) {
        throw mapPgError(
          error,
          `read change token of namespace "${ns}"`,
          this.#conn.where,
          this.#conn.secret,
        );
      }
    })());
  }

  /** Pushes a hint for every commit to `ns` (LISTEN/NOTIFY; no polling delay). */
  watch(ns: string, onChange: (hint: ChangeHint) => void): ChangeFeed {
    this.#ns(ns);
    if (this.#closed) throw new ClosedError();
    const feed = this.#feed.watch(ns, onChange);
    const ready = feed.ready.catch((error) => {
      throw mapPgError(error, `watch namespace "${ns}"`, this.#conn.where, this.#conn.secret);
    });
    ready.catch(() => {}); // the watcher reads `ready`; nobody else has to
    return { ready, close: () => feed.close() };
  }

  /** Deletes expired keys of the namespace and reports how many. */
  async recover(ns: string): Promise<RecoveryReport> {
    this.#ns(ns);
    const rows = await this.#query(`recover namespace "${ns}"`, "purge", [ns, Date.now()]);
    const purged = Number(rows[0]?.n ?? 0);
    const actions = [`schema "${this.#schema}" is in place`];
    if (purged > 0) actions.push(`purged ${purged} expired keys`);
    return { actions, quarantined: [], ok: true };
  }

  /**
   * Lets the calls already started finish, then ends the LISTEN connection, and the pool if
   * this backend opened it. Later calls reject with ClosedError.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    await this.#feed.close();
    if (this.#conn.owns) await this.#conn.pool.end().catch(() => {});
  }
}
