// Opens a backend by name. Each backend module is imported only when used,
// so importing the core never loads node:sqlite, ioredis, pg or Deno KV.
import { ValidationError } from "../errors.ts";
import type { Backend } from "../types.ts";
import type { SqliteDatabase } from "./sqlite.ts";
import type { RedisBackendOptions } from "./redis.ts";
import type { PgPool } from "./postgres.ts";

/** Backend names that `StateManager.open()` accepts. */
export const BACKEND_NAMES = ["memory", "json", "sqlite", "redis", "kv", "postgres"] as const;

/** A backend name. */
export type BackendName = typeof BACKEND_NAMES[number];

/** Where a backend keeps its data; each backend reads the fields it needs. */
export interface BackendLocation {
  /** State folder for file backends. Default ".claude/state". */
  dir?: string;
  /**
   * SQLite database file (default `<dir>/state.db`), or Deno KV database: a
   * file (default `<dir>/state.kv`), ":memory:" or a KV Connect URL.
   */
  path?: string;
  /** An open SQLite database (node:sqlite, @db/sqlite or better-sqlite3); the caller closes it. */
  database?: SqliteDatabase;
  /**
   * Redis URL (`redis://`, `rediss://`, with password and db; default `REDIS_URL`), or
   * PostgreSQL URL (`postgres://`; default `DATABASE_URL`, then the PG* variables).
   */
  url?: string;
  /** An ioredis client or Cluster you opened; the caller closes it. */
  client?: RedisBackendOptions["client"];
  /** Redis: treat `url` as one node of a Redis Cluster. */
  cluster?: boolean;
  /** Redis: first part of every key name. Default "ms". */
  prefix?: string;
  /** Redis: extra ioredis options (Sentinel `sentinels` and `name`, `tls`, timeouts). */
  redisOptions?: RedisBackendOptions["redisOptions"];
  /** Redis: extra ioredis Cluster options. */
  clusterOptions?: RedisBackendOptions["clusterOptions"];
  /** PostgreSQL: a `pg.Pool` you opened; the caller ends it. */
  pool?: PgPool;
  /** PostgreSQL: the schema holding the tables. Default "managing_state". */
  schema?: string;
}

const REDIS_FIELDS = [
  "url",
  "client",
  "cluster",
  "prefix",
  "redisOptions",
  "clusterOptions",
] as const;

/** Default state folder, as the seed has it. */
export const DEFAULT_DIR = ".claude/state";

/** Opens the named backend. */
export async function openBackend(
  name: string,
  location: BackendLocation,
): Promise<Backend> {
  const dir = location.dir ?? DEFAULT_DIR;
  switch (name) {
    case "memory": {
      const { MemoryBackend } = await import("./memory.ts");
      return new MemoryBackend();
    }
    case "json": {
      const { JsonBackend } = await import("./json.ts");
      return new JsonBackend({ dir });
    }
    case "sqlite": {
      const { SqliteBackend } = await import("./sqlite.ts");
      return location.database
        ? new SqliteBackend({ database: location.database })
        : new SqliteBackend({ path: location.path ?? `${dir}/state.db` });
    }
    case "redis": {
      const { RedisBackend } = await import("./redis.ts");
      const options: RedisBackendOptions = {};
      for (const name of REDIS_FIELDS) {
        if (location[name] !== undefined) Object.assign(options, { [name]: location[name] });
      }
      return new RedisBackend(options);
    }
    case "postgres": {
      const { PostgresBackend } = await import("./postgres.ts");
      const url = location.url;
      if (url !== undefined && !/^postgres(ql)?:\/\//i.test(url)) {
        throw new ValidationError(
          "The postgres backend takes a postgres:// or postgresql:// URL, not a URL of another kind",
        );
      }
      return new PostgresBackend({
        ...(url !== undefined ? { url } : {}),
        ...(location.pool !== undefined ? { pool: location.pool } : {}),
        ...(location.schema !== undefined ? { schema: location.schema } : {}),
      });
    }
    case "kv": {
      const { KvBackend } = await import("./kv.ts");
      const path = location.path ?? location.url ?? `${dir}/state.kv`;
      // A URL meant for another backend (redis://...) is never taken as a file name.
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path) && !/^https?:\/\//i.test(path)) {
        throw new ValidationError(
          "Deno KV opens a database file or a KV Connect URL (http:// or https://), " +
            "not a URL of another kind",
        );
      }
      return new KvBackend({ path });
    }
    default:
      throw new ValidationError(
        `Unknown backend ${JSON.stringify(name)}: use one of ${BACKEND_NAMES.join(", ")}`,
      );
  }
}
