// The backend names StateManager.open() and migrate() accept, and the options
// each one takes: the one place to extend when a backend is added (its name
// in BACKEND_NAMES, its options in BackendLocations, its case in _open.ts).
import type { Backend } from "../types.ts";
import type { SqliteDatabase } from "./sqlite.ts";
import type { RedisBackendOptions } from "./redis.ts";
import type { PgPool } from "./postgres.ts";

/** Backend names that `StateManager.open()` accepts. */
export const BACKEND_NAMES = ["memory", "json", "sqlite", "redis", "kv", "postgres"] as const;

/** A backend name: "memory", "json", "sqlite", "redis", "kv" or "postgres". */
export type BackendName = typeof BACKEND_NAMES[number];

/** Options of the JSON backend. */
export interface JsonLocation {
  /** State folder; each namespace is a folder in it. Default ".claude/state". */
  dir?: string;
}

/** Options of the SQLite backend. */
export interface SqliteLocation {
  /** Folder of the default database file `<dir>/state.db`. Default ".claude/state". */
  dir?: string;
  /** The database file. Default `<dir>/state.db`; ":memory:" for a private in-memory one. */
  path?: string;
  /**
   * An open database (node:sqlite, @db/sqlite or better-sqlite3) to use
   * instead of `path`; the caller closes it.
   */
  database?: SqliteDatabase;
}

/** Options of the Redis backend. */
export interface RedisLocation {
  /** Redis URL (`redis://`, `rediss://`, with password and db). Default: `REDIS_URL`. */
  url?: string;
  /** An ioredis client or Cluster you opened, instead of `url`; the caller closes it. */
  client?: RedisBackendOptions["client"];
  /** Treat `url` as one node of a Redis Cluster. */
  cluster?: boolean;
  /** First part of every key name. Default "ms". */
  prefix?: string;
  /** Extra ioredis options (Sentinel `sentinels` and `name`, `tls`, timeouts). */
  redisOptions?: RedisBackendOptions["redisOptions"];
  /** Extra ioredis Cluster options. */
  clusterOptions?: RedisBackendOptions["clusterOptions"];
  /** Wait for replicas after every write: `{ replicas: 1, timeoutMs: 1000 }`. Default: none. */
  durability?: RedisBackendOptions["durability"];
}

/** Options of the Deno KV backend. */
export interface KvLocation {
  /** Folder of the default database file `<dir>/state.kv`. Default ".claude/state". */
  dir?: string;
  /** The database: a file (default `<dir>/state.kv`), ":memory:" or a KV Connect URL. */
  path?: string;
  /** A KV Connect URL (http:// or https://); `path` wins when both are given. */
  url?: string;
}

/** Options of the PostgreSQL backend. */
export interface PostgresLocation {
  /** PostgreSQL URL (`postgres://`). Default: `DATABASE_URL`, then the libpq `PG*` variables. */
  url?: string;
  /** A `pg.Pool` you opened, instead of `url`; the caller ends it. */
  pool?: PgPool;
  /** The schema holding the tables. Default "managing_state". */
  schema?: string;
}

/** The options each backend name takes (the memory backend takes none). */
export interface BackendLocations {
  /** The memory backend: this process only. */
  memory: Record<never, never>;
  /** The JSON backend (the default). */
  json: JsonLocation;
  /** The SQLite backend. */
  sqlite: SqliteLocation;
  /** The Redis backend. */
  redis: RedisLocation;
  /** The Deno KV backend. */
  kv: KvLocation;
  /** The PostgreSQL backend. */
  postgres: PostgresLocation;
}

/**
 * Every backend's options in one object, loosely typed: each backend reads
 * the fields it needs and ignores the others. What callers that pick the
 * backend at run time (the CLI) pass; typed code uses {@linkcode BackendOptions}.
 */
export type BackendLocation =
  & JsonLocation
  & SqliteLocation
  & RedisLocation
  & KvLocation
  & PostgresLocation;

/** The name of any backend's option. */
export type LocationKey = keyof BackendLocation;

/** One backend's options `T`, with every other backend's option an error (`?: never`). */
export type Exclusive<T> = T & { [K in Exclude<LocationKey, keyof T>]?: never };

/**
 * A backend name with its own options: `{ backend: "sqlite", path }`,
 * `{ backend: "redis", url }`, ... (without `backend`: the JSON backend with
 * `dir`), or a backend object you opened (then no options: it is open). An
 * option of another backend (`{ backend: "json", url }`) or an unknown name
 * is a type error; at run time an unknown name throws `ValidationError`, and
 * options of another backend are ignored.
 */
export type BackendOptions =
  | ({ backend?: "json" } & Exclusive<JsonLocation>)
  | NamedBackendOptions
  | ({ backend: Backend } & Exclusive<Record<never, never>>);

/** A backend name with its own options, as `migrate()` takes an end: `{ backend: "sqlite", path }`. */
export type NamedBackendOptions = {
  [N in BackendName]: { backend: N } & Exclusive<BackendLocations[N]>;
}[BackendName];
