// The PostgreSQL backend's option types, kept apart from the code that loads
// `pg`: the declarations a user's compiler reads for the main module (which
// names these types) never import `pg`, so its types are not needed unless
// the backend is used.

/** The part of a `pg.Pool` the backend uses (a caller's pool must be a real `pg.Pool`). */
export interface PgPool {
  /** Runs one statement on a pooled connection. */
  query(config: unknown, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  /** Checks out a connection (for the schema's transaction). */
  connect(): Promise<unknown>;
  /** Closes every connection. */
  end(): Promise<void>;
  /** Errors of idle connections. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** The settings the pool was made with (the LISTEN client copies them). */
  readonly options?: Record<string, unknown>;
}

/** Options of the PostgreSQL backend. */
export interface PostgresBackendOptions {
  /**
   * `postgres://user:password@host:port/database?sslmode=...`. Default:
   * `DATABASE_URL`, else the libpq variables (`PGHOST`, `PGPORT`, `PGUSER`,
   * `PGPASSWORD`, `PGDATABASE`) as node-postgres reads them.
   */
  url?: string;
  /** A `pg.Pool` you opened; the backend never ends it (you do). */
  pool?: PgPool;
  /** The schema holding the tables: lower-case letters, digits, "_". Default "managing_state". */
  schema?: string;
  /** Most pooled connections. Default 10. */
  poolSize?: number;
  /** Server-side `statement_timeout` of each connection, in ms. Default 30000; 0 = none. */
  statementTimeoutMs?: number;
  /** How long to wait for a connection, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * How long the client waits for a statement's reply before it drops the
   * connection (a transient error whose outcome is unknown), in ms. Default
   * `statementTimeoutMs` + `connectTimeoutMs`; none when `statementTimeoutMs` is 0.
   */
  queryTimeoutMs?: number;
  /** TLS as node-postgres takes it (`true`, or `tls.connect` options). */
  ssl?: boolean | Record<string, unknown>;
}
