/**
 * The SQLite backend: one database file holds every namespace, in WAL mode,
 * with each write in a `BEGIN IMMEDIATE` transaction. Uses `node:sqlite`
 * (built into Deno and Node >= 22.13) unless you pass an open database
 * (node:sqlite, @db/sqlite and better-sqlite3 all fit {@linkcode SqliteDatabase}).
 *
 * @example
 * ```ts
 * import { StateManager } from "../mod.ts";
 * import { SqliteBackend } from "./sqlite.ts";
 *
 * const backend = new SqliteBackend({ path: ":memory:" });
 * await using state = await StateManager.open({ backend, namespace: "wf" });
 * await state.save("phase", "build");
 * await backend.close();
 * ```
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { compareKeys, prefixEnd } from "../core/_keys.ts";
import { validateNamespace } from "../core/_validate.ts";
import { checkpointInfo } from "./_shared.ts";
import {
  BackendError,
  CheckpointExistsError,
  ClosedError,
  StateDamagedError,
  type StateError,
  ValidationError,
} from "../errors.ts";
import { repairDatabase } from "./_sqlite_repair.ts";
import { checkDatabase } from "./_sqlite_schema.ts";
import { createPrivateFile } from "./_create.ts";
import type { SqliteDatabase, SqliteStatement } from "./_sqlite_driver.ts";
import { mapSqliteError as mapError } from "./_errors_sqlite.ts";
import {
  CHANGES,
  type CheckpointRow,
  CLAIM_REQUEST,
  LIVE,
  NOT_KEPT,
  PRUNE_REQUESTS,
  type Row,
  SAVE,
  SAVE_TRIGGER,
  SCHEMA,
  SELECT_CHECKPOINTS,
  SELECT_ENTRY,
  SELECT_VERSION,
  UPSERT,
  UPSERT_HEAD,
} from "./_sqlite_sql.ts";

export type { SqliteDatabase, SqliteParam, SqliteStatement } from "./_sqlite_driver.ts";
import type {
  Backend,
  BackendCapabilities,
  CheckpointInfo,
  CheckpointRequest,
  CommitOp,
  CommitResult,
  Head,
  JsonValue,
  KeyPage,
  ListOptions,
  RecoveryReport,
  RequestOptions,
  RestoreOptions,
  StoredEntry,
} from "../types.ts";
import { REQUEST_WINDOW } from "../types.ts";

/** Options of {@linkcode SqliteBackend}. */
export interface SqliteOptions {
  /** Database file (created with mode 0600), or ":memory:". */
  path?: string;
  /** An open database instead of `path`; you close it. */
  database?: SqliteDatabase;
  /** How long a writer waits for another process's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * "NORMAL" (default) survives any process crash; "FULL" also survives
   * power loss, at several times the cost per write.
   */
  synchronous?: "NORMAL" | "FULL";
}

/** A commit whose checks did not hold. */
const FAILED: CommitResult = { ok: false };

/** The values of the `synchronous` option. */
const SYNCHRONOUS: readonly string[] = ["NORMAL", "FULL"];

// Commits made through each database object, so managers sharing one
// connection see each other's writes (data_version only counts other connections).
const localCommits = new WeakMap<SqliteDatabase, number>();

/** Stores every namespace in one SQLite database. */
export class SqliteBackend implements Backend {
  /** Always "sqlite". */
  readonly name = "sqlite";
  /** Persistent and safe for many processes (unless ":memory:"). */
  readonly capabilities: BackendCapabilities;
  #db: SqliteDatabase;
  readonly #owns: boolean;
  readonly #statements = new Map<string, SqliteStatement>();
  readonly #options: SqliteOptions;
  /** Set when the file this backend opened is damaged: every operation throws it until recover(). */
  #damage: StateError | undefined;
  #closed = false;
  readonly #validated = new Set<string>();
  /** Requests recorded through this backend; every 256th prunes the namespace's old ids. */
  #recorded = 0;

  /** Opens (and creates) the database; throws a BackendError if it cannot. */
  constructor(options: SqliteOptions) {
    // Both reach SQL text (PRAGMAs take no parameters): only known values pass.
    const synchronous = options.synchronous ?? "NORMAL";
    if (!SYNCHRONOUS.includes(synchronous)) {
      throw new ValidationError(
        `synchronous must be one of ${SYNCHRONOUS.join(", ")}, got ${JSON.stringify(synchronous)}`,
      );
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new ValidationError(
        `busyTimeoutMs must be a whole number of milliseconds, got ${String(busyTimeoutMs)}`,
      );
    }
    const path = options.path ?? ":memory:";
    const persistent = options.database !== undefined || path !== ":memory:";
    this.capabilities = { persistent, multiProcess: persistent };
    this.#owns = options.database === undefined;
    this.#options = { ...options, synchronous, busyTimeoutMs };
    this.#db = this.#connect();
  }

  #connect(): SqliteDatabase {
    const options = this.#options;
    const path = options.path ?? ":memory:";
    let db: SqliteDatabase | undefined = options.database;
    let undo = () => {};
    try {
      if (!db) {
        if (path !== ":memory:") undo = createPrivateFile(path);
        db = new DatabaseSync(path) as unknown as SqliteDatabase;
      }
      this.#db = db;
      db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs}`);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${options.synchronous}`);
      this.#tx(() => db!.exec(SCHEMA));
      db.exec(SAVE_TRIGGER);
      return db;
    } catch (error) {
      const mapped = mapError(error, `open SQLite database ${JSON.stringify(path)}`);
      // A damaged file stays open so that recover() can repair it; using it throws.
      if (mapped instanceof StateDamagedError && this.#owns && path !== ":memory:") {
        this.#damage = mapped;
        return db!;
      }
      // Switching to WAL needs a moment of exclusive access: another process
      // opening at the same time makes this fail as busy, and the manager retries.
      if (this.#owns) {
        db?.close();
        // A failed open leaves no file behind; but a busy one may share the
        // new file with another process opening it right now: that stays.
        if (!(mapped instanceof BackendError && mapped.transient)) undo();
      }
      throw mapped;
    }
  }

  /** Validates a namespace once (then remembers it: validation runs on every call). */
  #ns(ns: string): void {
    if (this.#validated.has(ns)) return;
    validateNamespace(ns);
    if (this.#validated.size >= 10_000) this.#validated.clear();
    this.#validated.add(ns);
  }

  #stmt(sql: string): SqliteStatement {
    if (this.#closed) throw new ClosedError();
    if (this.#damage) throw this.#damage;
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /** Runs `fn` in a write transaction; rolls back when it throws or `keep` says so. */
  #tx<T>(fn: () => T, keep: (result: T) => boolean = () => true): T {
    this.#db.exec("BEGIN IMMEDIATE");
    let result: T;
    try {
      result = fn();
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
    if (!keep(result)) {
      this.#db.exec("ROLLBACK");
      return result;
    }
    this.#db.exec("COMMIT");
    this.#committed();
    return result;
  }

  /** Counts a commit made through this connection (for changeToken). */
  #committed(): void {
    localCommits.set(this.#db, (localCommits.get(this.#db) ?? 0) + 1);
  }

  #run<T>(what: string, fn: () => T): Promise<T> {
    try {
      if (this.#closed) throw new ClosedError();
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(mapError(error, what));
    }
  }

  /** Reads keys; missing or expired ones are null. */
  get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("read", () => {
      const stmt = this.#stmt(SELECT_ENTRY);
      const now = Date.now();
      return keys.map((key) => {
        const row = stmt.get(ns, key, now) as Row | undefined;
        return row
          ? { key, value: row.value, version: row.version, expiresAt: row.expires_at ?? null }
          : null;
      });
    });
  }

  /**
   * Applies a commit and records its id, in one transaction. The id is
   * claimed first: a replay finds it taken and changes nothing; a failed
   * check rolls the claim back with everything else. A plain save of one
   * key is one statement instead (SAVE_TRIGGER in _sqlite_sql.ts).
   */
  commit(ns: string, op: CommitOp): Promise<CommitResult> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    const only = op.sets.length === 1 && op.checks.length === 0 && op.deletes.length === 0
      ? op.sets[0]!
      : undefined;
    if (only) {
      // The common save: one statement (SAVE_TRIGGER), the same answer for a replay.
      return this.#run("write", () => {
        const now = Date.now();
        this.#stmt(SAVE).run(ns, only.key, only.value, op.version, only.expiresAt, op.id, now);
        this.#committed();
        if (++this.#recorded % 256 === 0) {
          try {
            this.#prune(ns, now); // one statement; failing, it leaves more ids for the next time
          } catch { /* the save itself is committed */ }
        }
        return { ok: true, version: op.version };
      });
    }
    return this.#run("write", () =>
      this.#tx((): CommitResult | null => {
        const now = Date.now();
        if (!this.#claim(ns, op.id, now)) return null;
        const version = this.#stmt(SELECT_VERSION);
        for (const check of op.checks) {
          const row = version.get(ns, check.key, now) as { version: string } | undefined;
          if ((row?.version ?? null) !== check.version) return FAILED;
        }
        const del = this.#stmt("DELETE FROM ms_entries WHERE ns = ? AND key = ?");
        for (const key of op.deletes) del.run(ns, key);
        const upsert = this.#stmt(UPSERT);
        for (const s of op.sets) upsert.run(ns, s.key, s.value, op.version, s.expiresAt);
        return { ok: true, version: op.version };
      }, (result) => result !== null && result.ok) ?? { ok: true, version: op.version });
  }

  /**
   * Records a request id (inside the transaction of its change); false when
   * it was recorded already, i.e. this is a replay. Prunes now and then.
   */
  #claim(ns: string, id: string, now: number): boolean {
    this.#stmt(CLAIM_REQUEST).run(ns, id, now);
    if (Number((this.#stmt(CHANGES).get() as { n: number | bigint }).n) === 0) return false;
    if (++this.#recorded % 256 === 0) this.#prune(ns, now);
    return true;
  }

  /** Drops the namespace's request ids past the window. */
  #prune(ns: string, now: number): void {
    this.#stmt(PRUNE_REQUESTS).run(ns, now - REQUEST_WINDOW.ms, ns, REQUEST_WINDOW.count);
  }

  /** Lists live keys in UTF-8 byte order (SQLite's BINARY collation). */
  list(ns: string, options: ListOptions): Promise<KeyPage> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("list keys", () => {
      const prefix = options.prefix ?? "";
      const start = options.cursor !== undefined && compareKeys(options.cursor, prefix) >= 0
        ? options.cursor
        : prefix;
      const op = start === options.cursor ? ">" : ">=";
      const end = prefixEnd(prefix);
      const limit = options.limit ?? -1;
      const rows = this.#stmt(
        `SELECT key FROM ms_entries WHERE ns = ? AND key ${op} ? AND (? IS NULL OR key < ?)
         AND ${LIVE} ORDER BY key LIMIT ?`,
      ).all(ns, start, end, end, Date.now(), limit === -1 ? -1 : limit + 1) as { key: string }[];
      const more = limit !== -1 && rows.length > limit;
      const keys = rows.slice(0, more ? limit : undefined).map((r) => r.key);
      return { keys, cursor: more ? keys[keys.length - 1]! : null };
    });
  }

  /** Copies the live keys into checkpoint tables in one transaction. */
  checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("take checkpoint", () =>
      this.#tx(() => {
        const now = Date.now();
        if (!this.#claim(ns, request.id, now)) {
          return this.#checkpointInfo(ns, request.name) ?? checkpointInfo(request, []);
        }
        const exists = this.#stmt("SELECT 1 FROM ms_checkpoints WHERE ns = ? AND name = ?")
          .get(ns, request.name);
        if (exists && !request.overwrite) throw new CheckpointExistsError(ns, request.name);
        this.#deleteCheckpoint(ns, request.name);
        const entries = this.#stmt(
          `SELECT key, value FROM ms_entries WHERE ns = ? AND ${LIVE}`,
        ).all(ns, now) as { key: string; value: string }[];
        this.#stmt(
          `INSERT INTO ms_checkpoint_entries (ns, name, key, value, version, expires_at)
           SELECT ns, ?, key, value, version, expires_at FROM ms_entries WHERE ns = ? AND ${LIVE}`,
        ).run(request.name, ns, now);
        const parent = this.#head(ns)?.name ?? null;
        const info = checkpointInfo({ ...request, parent }, entries);
        this.#insertCheckpointInfo(ns, info);
        this.#stmt(UPSERT_HEAD).run(ns, request.name, 0, request.createdAt);
        return info;
      }));
  }

  /** Lists checkpoints, newest first. */
  listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("list checkpoints", () => {
      const rows = this.#stmt(
        `${SELECT_CHECKPOINTS} WHERE c.ns = ? ORDER BY c.created_at DESC, c.name DESC`,
      ).all(ns) as CheckpointRow[];
      return rows.map(toInfo);
    });
  }

  #checkpointInfo(ns: string, name: string): CheckpointInfo | undefined {
    const row = this.#stmt(`${SELECT_CHECKPOINTS} WHERE c.ns = ? AND c.name = ?`)
      .get(ns, name) as CheckpointRow | undefined;
    return row && toInfo(row);
  }

  #head(ns: string): Head | null {
    const row = this.#stmt("SELECT name, restored, at FROM ms_heads WHERE ns = ?").get(ns) as
      | { name: string; restored: number; at: number }
      | undefined;
    if (!row) return null;
    return {
      name: row.name,
      via: Number(row.restored) === 1 ? "restore" : "checkpoint",
      at: Number(row.at),
    };
  }

  /** The checkpoint last taken or restored. */
  head(ns: string): Promise<Head | null> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("read head", () => this.#head(ns));
  }

  /** Sets the head as given. */
  importHead(ns: string, head: Head | null): Promise<void> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("import head", () =>
      this.#tx(() => {
        this.#stmt("DELETE FROM ms_heads WHERE ns = ?").run(ns);
        if (head) {
          this.#stmt(UPSERT_HEAD).run(ns, head.name, head.via === "restore" ? 1 : 0, head.at);
        }
      }));
  }

  /** Reads a checkpoint's entries. */
  readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("read checkpoint", () => {
      if (!this.#stmt("SELECT 1 FROM ms_checkpoints WHERE ns = ? AND name = ?").get(ns, name)) {
        return null;
      }
      const rows = this.#stmt(
        `SELECT key, value, version, expires_at FROM ms_checkpoint_entries
         WHERE ns = ? AND name = ? ORDER BY key`,
      ).all(ns, name) as (Row & { key: string })[];
      return rows.map((r) => ({
        key: r.key,
        value: r.value,
        version: r.version,
        expiresAt: r.expires_at ?? null,
      }));
    });
  }

  /** Replaces the namespace's keys with the checkpoint's (fresh versions), in one transaction. */
  restore(ns: string, name: string, options: RestoreOptions): Promise<boolean> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("restore checkpoint", () =>
      this.#tx(() => {
        const now = Date.now();
        if (!this.#claim(ns, options.id, now)) return true;
        if (!this.#stmt("SELECT 1 FROM ms_checkpoints WHERE ns = ? AND name = ?").get(ns, name)) {
          return false; // rolled back, claim included
        }
        const prefixes = options.keep?.prefixes ?? [];
        // One range test per kept prefix; the statement text depends only on the count.
        const notKept = prefixes.map(() => ` AND ${NOT_KEPT}`).join("");
        const ranges = prefixes.flatMap((p) => [p, prefixEnd(p), prefixEnd(p)]);
        this.#stmt(`DELETE FROM ms_entries WHERE ns = ?${notKept}`).run(ns, ...ranges);
        this.#stmt(
          `INSERT INTO ms_entries (ns, key, value, version, expires_at)
           SELECT ns, key, value, ?, expires_at FROM ms_checkpoint_entries
           WHERE ns = ? AND name = ? AND ${LIVE}${notKept}`,
        ).run(options.id, ns, name, now, ...ranges);
        this.#stmt(UPSERT_HEAD).run(ns, name, 1, now);
        return true;
      }, (restored) => restored));
  }

  /** Deletes a checkpoint. */
  deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("delete checkpoint", () =>
      this.#tx(() => {
        if (!this.#claim(ns, options.id, Date.now())) return true;
        return this.#deleteCheckpoint(ns, name); // none found: rolled back, claim included
      }, (found) => found));
  }

  #deleteCheckpoint(ns: string, name: string): boolean {
    const found = this.#stmt("SELECT 1 FROM ms_checkpoints WHERE ns = ? AND name = ?").get(
      ns,
      name,
    );
    for (const table of ["ms_checkpoint_entries", "ms_checkpoints", "ms_parents"]) {
      this.#stmt(`DELETE FROM ${table} WHERE ns = ? AND name = ?`).run(ns, name);
    }
    return found !== undefined;
  }

  /** Writes a checkpoint from given entries, in one transaction. */
  importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("import checkpoint", () =>
      this.#tx(() => {
        this.#deleteCheckpoint(ns, info.name);
        const insert = this.#stmt(
          `INSERT INTO ms_checkpoint_entries (ns, name, key, value, version, expires_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        );
        for (const e of entries) insert.run(ns, info.name, e.key, e.value, e.version, e.expiresAt);
        this.#insertCheckpointInfo(ns, checkpointInfo(info, entries));
      }));
  }

  #insertCheckpointInfo(ns: string, info: CheckpointInfo): void {
    this.#stmt(
      `INSERT INTO ms_checkpoints (ns, name, created_at, auto, metadata, key_count, bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      ns,
      info.name,
      info.createdAt,
      info.auto ? 1 : 0,
      JSON.stringify(info.metadata),
      info.keyCount,
      info.bytes,
    );
    if (info.parent !== null) {
      this.#stmt("INSERT INTO ms_parents (ns, name, parent, created_at) VALUES (?, ?, ?, ?)")
        .run(ns, info.name, info.parent, info.createdAt);
    }
  }

  /** Namespaces that hold keys or checkpoints. */
  namespaces(): Promise<string[]> {
    return this.#run("list namespaces", () =>
      (this.#stmt(
        `SELECT ns FROM ms_entries WHERE ${LIVE} UNION SELECT ns FROM ms_checkpoints ORDER BY 1`,
      ).all(Date.now()) as { ns: string }[]).map((r) => r.ns));
  }

  /** Deletes the namespace's keys and checkpoints in one transaction. */
  clear(ns: string, options: RequestOptions): Promise<void> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("clear namespace", () =>
      this.#tx(() => {
        if (!this.#claim(ns, options.id, Date.now())) return;
        for (
          const table of [
            "ms_entries",
            "ms_checkpoints",
            "ms_checkpoint_entries",
            "ms_heads",
            "ms_parents",
          ]
        ) {
          this.#stmt(`DELETE FROM ${table} WHERE ns = ?`).run(ns);
        }
      }));
  }

  /** `PRAGMA data_version` (other connections' commits) plus this connection's commits. */
  changeToken(_ns: string): Promise<string> {
    return this.#run("read change token", () => {
      const row = this.#stmt("PRAGMA data_version").get() as { data_version: number };
      return `${row.data_version}:${localCommits.get(this.#db) ?? 0}`;
    });
  }

  /**
   * Checks the file (integrity_check, then every row's content) and purges
   * expired keys. A damaged file this backend opened by path is rebuilt from
   * every row that can still be read, the damaged file kept aside
   * (`_sqlite_repair.ts`); the report names what was lost.
   */
  recover(ns: string): Promise<RecoveryReport> {
    this.#ns(ns); // whoever passed it: a migration source may be hostile
    return this.#run("recover", () => {
      if (!this.#damage) {
        const isDamage = (e: unknown) => mapError(e, "") instanceof StateDamagedError;
        const damage = checkDatabase(this.#db, SCHEMA, isDamage);
        if (damage === undefined) return this.#purge(ns, ["integrity_check: ok"]);
        this.#damage = new StateDamagedError(`SQLite database damaged: ${damage}`);
      }
      const path = this.#options.path;
      if (!this.#owns || path === undefined || path === ":memory:") {
        return {
          actions: [`the database is damaged: ${this.#damage.message}`],
          quarantined: [],
          ok: false,
        };
      }
      // Repair works on the file alone: this connection closes, and opens the new file after.
      this.#statements.clear();
      this.#db.close();
      try {
        return repairDatabase(path, SCHEMA);
      } finally {
        this.#damage = undefined;
        this.#db = this.#connect();
      }
    });
  }

  #purge(ns: string, actions: string[]): RecoveryReport {
    const count = () =>
      Number(
        (this.#stmt("SELECT count(*) AS n FROM ms_entries WHERE ns = ?").get(ns) as {
          n: number;
        }).n,
      );
    const before = count();
    this.#tx(() =>
      this.#stmt("DELETE FROM ms_entries WHERE ns = ? AND expires_at <= ?").run(ns, Date.now())
    );
    const purged = before - count();
    if (purged > 0) actions.push(`purged ${purged} expired keys`);
    return { actions, quarantined: [], ok: true };
  }

  /** Closes the database if this backend opened it. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#statements.clear();
    if (this.#owns) this.#db.close();
    return Promise.resolve();
  }
}

function toInfo(r: CheckpointRow): CheckpointInfo {
  return {
    name: r.name,
    createdAt: Number(r.created_at),
    keyCount: Number(r.key_count),
    bytes: Number(r.bytes),
    auto: Number(r.auto) === 1,
    metadata: JSON.parse(r.metadata) as Record<string, JsonValue>,
    parent: r.parent ?? null,
  };
}
