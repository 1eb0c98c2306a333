// Connection handling of the Redis backend: URL parsing (with passwords kept
// out of every message), ioredis clients with bounded waits, waiting for a
// usable connection (errors are classified in _errors_redis.ts).
import process from "node:process";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { ValidationError } from "../errors.ts";

/** A standalone (or Sentinel) client or a Cluster client. */
export type IoRedisClient = Redis | Cluster;

/** What the backend needs to open its own client. */
export interface ConnectOptions {
  url?: string | undefined;
  cluster?: boolean | undefined;
  redisOptions?: Record<string, unknown> | undefined;
  clusterOptions?: Record<string, unknown> | undefined;
}

/** Whether a client is a Cluster (duck-typed, so another copy of ioredis works too). */
export function isCluster(client: IoRedisClient): client is Cluster {
  return (client as { isCluster?: unknown }).isCluster === true;
}

/** Accepts a caller's ioredis client; throws ValidationError for anything else. */
export function toClient(value: unknown): IoRedisClient {
  const c = value as Partial<Record<string, unknown>> | null;
  const ok = typeof c === "object" && c !== null && typeof c.status === "string" &&
    typeof c.evalsha === "function" && typeof c.options === "object";
  if (!ok) throw new ValidationError("The Redis client option must be an ioredis Redis or Cluster");
  if ((c.options as { keyPrefix?: unknown }).keyPrefix) {
    throw new ValidationError(
      "ioredis keyPrefix is not supported: use the backend's prefix option",
    );
  }
  return c as unknown as IoRedisClient;
}

/** A parsed redis:// or rediss:// URL. */
export interface RedisUrl {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
  /** The URL with the password replaced by "***", for messages. */
  display: string;
}

/** Where a backend connects when nothing else is said. */
export const DEFAULT_URL = "redis://127.0.0.1:6379";

/** Parses a Redis URL; throws ValidationError (without the password) if it is malformed. */
export function parseRedisUrl(url: string, source = "Redis URL"): RedisUrl {
  const bad = (why: string) =>
    new ValidationError(
      `${source} ${redactUrl(url)} is invalid: ${why}. ` +
        `Use redis://[user:password@]host[:port][/db] or rediss://... for TLS`,
    );
  if (typeof url !== "string") throw bad("it must be a string");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad("it cannot be parsed as a URL");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw bad(`the scheme must be redis: or rediss:, not ${parsed.protocol}`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (host === "") throw bad("the host is missing");
  const port = parsed.port === "" ? 6379 : Number(parsed.port);
  const path = parsed.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d{1,5}$/.test(path)) throw bad(`the database "${path}" is not a number`);
  if (parsed.search !== "" || parsed.hash !== "") {
    throw bad("query parameters are not supported; pass ioredis options instead");
  }
  const out: RedisUrl = {
    host,
    port,
    db: path === "" ? 0 : Number(path),
    tls: parsed.protocol === "rediss:",
    display: redactUrl(url),
  };
  if (parsed.username !== "") out.username = decodeURIComponent(parsed.username);
  if (parsed.password !== "") out.password = decodeURIComponent(parsed.password);
  return out;
}

/** The URL with any password replaced by "***". */
export function redactUrl(url: unknown): string {
  const text = String(url);
  return JSON.stringify(text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:).*@/i, "$1***@"));
}

function envUrl(): string | undefined {
  try {
    return process.env.REDIS_URL || undefined;
  } catch {
    return undefined; // no permission to read the environment
  }
}

// ioredis options without replyMapping: the backend reads the default ("legacy") reply shapes.
type NodeOptions = Omit<RedisOptions, "replyMapping">;

const retryStrategy = (times: number) =>
  Math.min(50 * 2 ** Math.min(times - 1, 5), 1000) + Math.floor(Math.random() * 50);

// Commands are never queued while offline or resent after a reconnect: a
// write is sent once, when the connection is ready, and a lost reply is
// reported (the manager's version check settles whether it landed).
const SAFE: NodeOptions = {
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  enableOfflineQueue: false,
};
const DEFAULTS: NodeOptions = { connectTimeout: 5000 };
/** Default command timeout, kept by the backend's watchdog (_redis_watchdog.ts), not ioredis. */
const COMMAND_TIMEOUT_MS = 5000;

/** Opens (lazily) a client for the options; `where` names it in messages, `secret` is redacted. */
export function createClient(
  options: ConnectOptions,
): { client: IoRedisClient; where: string; secret: string | undefined; commandTimeoutMs: number } {
  if (options.cluster !== undefined && typeof options.cluster !== "boolean") {
    throw new ValidationError(
      `The cluster option must be a boolean, got ${typeof options.cluster}`,
    );
  }
  for (const name of ["redisOptions", "clusterOptions"] as const) {
    const value = options[name];
    if (
      value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))
    ) {
      throw new ValidationError(`The ${name} option must be an object of ioredis options`);
    }
  }
  // The backend reads replies in ioredis' default ("legacy") shapes.
  // commandTimeout is kept by the backend's watchdog: ioredis would arm a timer per command.
  const { replyMapping: _mapping, commandTimeout, ...extra } = (options.redisOptions ??
    {}) as RedisOptions;
  const commandTimeoutMs = commandTimeout ?? COMMAND_TIMEOUT_MS;
  if (typeof commandTimeoutMs !== "number" || !(commandTimeoutMs > 0)) {
    throw new ValidationError(
      `The commandTimeout option must be a positive number of ms, got ${String(commandTimeout)}`,
    );
  }
  if (extra.keyPrefix !== undefined || options.clusterOptions?.keyPrefix !== undefined) {
    throw new ValidationError(
      "ioredis keyPrefix is not supported: use the backend's prefix option",
    );
  }
  const sentinel = extra.sentinels !== undefined;
  const fromEnv = options.url === undefined && !sentinel ? envUrl() : undefined;
  const url = options.url ?? fromEnv ?? (sentinel ? undefined : DEFAULT_URL);
  const parsed = url === undefined
    ? undefined
    : parseRedisUrl(url, fromEnv === undefined ? "Redis URL" : "REDIS_URL");
  const fromUrl: NodeOptions = {};
  if (parsed) {
    fromUrl.host = parsed.host;
    fromUrl.port = parsed.port;
    fromUrl.db = parsed.db;
    if (parsed.username !== undefined) fromUrl.username = parsed.username;
    if (parsed.password !== undefined) fromUrl.password = parsed.password;
    if (parsed.tls) fromUrl.tls = {};
  }
  const secret = extra.password ?? parsed?.password;
  const lazy = { lazyConnect: true, retryStrategy };
  if (options.cluster) {
    if (!parsed) throw new ValidationError("A Redis Cluster needs a url naming one of its nodes");
    if (parsed.db !== 0) {
      throw new ValidationError(
        `Redis Cluster has only database 0, but the URL asks for ${parsed.db}`,
      );
    }
    const { host: _h, port: _p, db: _d, ...auth } = fromUrl;
    const client = new Cluster([{ host: parsed.host, port: parsed.port }], {
      clusterRetryStrategy: retryStrategy,
      ...options.clusterOptions as ClusterOptions,
      enableOfflineQueue: false,
      lazyConnect: true,
      redisOptions: { ...DEFAULTS, ...auth, ...stripNodeOnly(extra), ...SAFE },
    });
    return { client, where: `Redis Cluster at ${parsed.display}`, secret, commandTimeoutMs };
  }
  const client = new Redis({ ...DEFAULTS, ...lazy, ...fromUrl, ...extra, ...SAFE });
  const where = sentinel
    ? `Redis master ${JSON.stringify(extra.name ?? "mymaster")} via Sentinel`
    : `Redis at ${parsed!.display}`;
  return { client, where, secret, commandTimeoutMs };
}

function stripNodeOnly(options: NodeOptions): NodeOptions {
  const {
    host: _h,
    port: _p,
    path: _path,
    sentinels: _s,
    retryStrategy: _r,
    enableOfflineQueue: _e,
    readOnly: _ro,
    himportFieldsets: _hf,
    ...rest
  } = options;
  return rest;
}

/** Describes a client passed in by the caller, without credentials. */
export function describeClient(client: IoRedisClient): string {
  if (isCluster(client)) return "Redis Cluster";
  const { host, port, db } = client.options;
  return `Redis at ${JSON.stringify(`${host ?? "127.0.0.1"}:${port ?? 6379}/${db ?? 0}`)}`;
}

/**
 * Waits until `client` can take commands, connecting it if it is lazy. Fails
 * at the first connection error or after `timeoutMs`; while the server is
 * known to be down it fails at once, so callers get an answer quickly.
 */
export class ReadyGate {
  readonly #client: IoRedisClient;
  readonly #timeoutMs: number;
  #pending: Promise<void> | undefined;
  #failure: { error: unknown; at: number } | undefined;

  constructor(client: IoRedisClient, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    // Commands skip the gate while the client is ready, so a reconnect must
    // clear the old failure here: a later lost connection is not described
    // (and classified) by an error from before it.
    client.on("ready", () => (this.#failure = undefined));
  }

  /** The error of the last failed wait, if the connection has not been ready since. */
  get lastError(): unknown {
    return this.#failure?.error;
  }

  /** Resolves when the client is ready. */
  ready(): Promise<void> {
    const client = this.#client;
    if (client.status === "ready") {
      this.#failure = undefined;
      return Promise.resolve();
    }
    const failure = this.#failure;
    if (failure && Date.now() - failure.at < this.#timeoutMs && client.status !== "wait") {
      return Promise.reject(failure.error);
    }
    this.#pending ??= this.#wait().finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  #wait(): Promise<void> {
    const client = this.#client;
    return new Promise<void>((resolve, reject) => {
      const done = (error?: unknown) => {
        clearTimeout(timer);
        client.off("ready", onReady);
        client.off("error", onError);
        client.off("end", onEnd);
        if (error === undefined) {
          this.#failure = undefined;
          resolve();
        } else {
          this.#failure = { error, at: Date.now() };
          reject(error);
        }
      };
      const onReady = () => done();
      const onError = (error: unknown) => done(error);
      const onEnd = () => done(this.#failure?.error ?? new Error("Connection is closed."));
      const timer = setTimeout(
        () => done(new Error(`no ready connection within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
      client.on("ready", onReady);
      client.on("error", onError);
      client.on("end", onEnd);
      if (client.status === "wait") client.connect().catch(() => {});
      else if (client.status === "end") onEnd();
      else if (client.status === "ready") onReady();
    });
  }
}
