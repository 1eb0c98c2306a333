// Connections of the PostgreSQL backend: options, the pool (node-postgres'
// own, or the caller's), the dedicated LISTEN client, and descriptions of
// where we connect with the password kept out of every message.
import process from "node:process";
import pg from "pg";
import { ValidationError } from "../errors.ts";
import type { PgPool, PostgresBackendOptions } from "./_pg_options.ts";
import { LeanPool } from "./_pg_pool.ts";

/** A client of its own, outside the pool: LISTEN holds its connection. */
export type PgClient = pg.Client;

/** The default schema name. */
export const DEFAULT_SCHEMA = "managing_state";

/** Validates the schema name (it names the NOTIFY channel too, so it is kept plain). */
export function validateSchema(schema: unknown): string {
  if (typeof schema !== "string" || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ValidationError(
      `The PostgreSQL schema must be 1-63 lower-case letters, digits or "_" ` +
        `(not starting with a digit), got ${JSON.stringify(String(schema))}`,
    );
  }
  return schema;
}

function positiveInt(value: unknown, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new ValidationError(`${name} must be a whole number >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** The URL with any password replaced by "***", quoted, for messages. */
export function redactPgUrl(url: string): string {
  return JSON.stringify(url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, "$1***@"));
}

function envUrl(): string | undefined {
  try {
    return process.env.DATABASE_URL || undefined;
  } catch {
    return undefined; // no permission to read the environment
  }
}

/** What the backend connects with. */
export interface Connection {
  pool: PgPool;
  /** Whether the backend opened the pool (and ends it on close). */
  owns: boolean;
  /** Opens a new client with the pool's settings, for LISTEN, named `name` in pg_stat_activity. */
  newClient(name: string): PgClient;
  /** Where, for messages: the URL without password, or "a pg.Pool you passed". */
  where: string;
  /** The password, to cut out of messages. */
  secret: string | undefined;
  connectTimeoutMs: number;
}

/** Builds the pool (nothing connects yet). */
export function openConnection(options: PostgresBackendOptions): Connection {
  const connectTimeoutMs = positiveInt(options.connectTimeoutMs, "connectTimeoutMs", 5000, 1);
  if (options.pool !== undefined) {
    const pool = options.pool as Partial<PgPool> | null;
    if (
      typeof pool !== "object" || pool === null || typeof pool.query !== "function" ||
      typeof pool.connect !== "function"
    ) {
      throw new ValidationError("The pool option must be a pg.Pool");
    }
    const settings = { ...(options.pool.options ?? {}) };
    return {
      pool: options.pool,
      owns: false,
      newClient: (name) =>
        new pg.Client({ ...settings, application_name: name } as pg.ClientConfig),
      where: "a pg.Pool you passed",
      secret: typeof settings.password === "string" ? settings.password : undefined,
      connectTimeoutMs,
    };
  }
  const poolSize = positiveInt(options.poolSize, "poolSize", 10, 1);
  const statementTimeoutMs = positiveInt(options.statementTimeoutMs, "statementTimeoutMs", 30_000);
  const queryTimeoutMs = positiveInt(
    options.queryTimeoutMs,
    "queryTimeoutMs",
    statementTimeoutMs === 0 ? 0 : statementTimeoutMs + connectTimeoutMs,
  );
  const fromEnv = options.url === undefined ? envUrl() : undefined;
  const url = options.url ?? fromEnv;
  let secret: string | undefined;
  let where = "the server the PG* variables name";
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ValidationError(
        `${fromEnv ? "DATABASE_URL" : "PostgreSQL URL"} ${redactPgUrl(url)} cannot be parsed: ` +
          `use postgres://user:password@host:port/database`,
      );
    }
    if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
      throw new ValidationError(
        `PostgreSQL URL ${redactPgUrl(url)} must start with postgres:// or postgresql://`,
      );
    }
    if (parsed.password !== "") secret = decodeURIComponent(parsed.password);
    where = `PostgreSQL at ${redactPgUrl(url)}`;
  }
  const config: pg.ClientConfig = {
    connectionTimeoutMillis: connectTimeoutMs,
    // A server that stops answering mid-query: fail instead of hanging forever.
    query_timeout: queryTimeoutMs === 0 ? undefined : queryTimeoutMs,
    application_name: "managing-state",
  };
  if (statementTimeoutMs > 0) config.statement_timeout = statementTimeoutMs;
  if (url !== undefined) config.connectionString = url;
  if (options.ssl !== undefined) config.ssl = options.ssl as pg.ClientConfig["ssl"];
  return {
    pool: new LeanPool(config, poolSize, connectTimeoutMs),
    owns: true,
    newClient: (name) => new pg.Client({ ...config, application_name: name }),
    where,
    secret,
    connectTimeoutMs,
  };
}
