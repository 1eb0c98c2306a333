// Public option types of the Redis backend, re-exported by redis.ts. They
// describe ioredis objects structurally, so the public types do not depend
// on the ioredis version.

/**
 * An ioredis `Redis` (standalone or Sentinel) or `Cluster` instance. Typed by
 * the few members every such client has, so this module's types do not
 * depend on the ioredis version; other objects are refused at construction.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import type { RedisClient } from "./redis.ts";
 *
 * const client: RedisClient = new Redis({ lazyConnect: true, maxRetriesPerRequest: 0 });
 * client.disconnect();
 * ```
 */
export interface RedisClient {
  /** The connection status ("wait", "ready", ...). */
  readonly status: string;
  /** The client's options. */
  readonly options: object;
  /** Closes the connection at once. */
  disconnect(): void;
}

/**
 * ioredis connection options, passed through as given (see the ioredis
 * documentation for all of them); the common ones are listed.
 *
 * @example
 * ```ts
 * import type { RedisConnectionOptions } from "./redis.ts";
 *
 * const options: RedisConnectionOptions = { connectTimeout: 2000, commandTimeout: 2000 };
 * ```
 */
export interface RedisConnectionOptions {
  /** Sentinels to ask for the master's address. */
  sentinels?: { host: string; port: number }[];
  /** The Sentinel master group name. */
  name?: string;
  /** Password for the Sentinels. */
  sentinelPassword?: string;
  /** ACL user name (overrides the URL's). */
  username?: string;
  /** Password (overrides the URL's). */
  password?: string;
  /** Database number (overrides the URL's). */
  db?: number;
  /** TLS options for node:tls; `{}` turns TLS on. */
  tls?: Record<string, unknown>;
  /** How long a connection may take, in ms. Default 5000. */
  connectTimeout?: number;
  /** How long a command may take, in ms. Default 5000. */
  commandTimeout?: number;
  /** Any other ioredis option. */
  [option: string]: unknown;
}

/**
 * Replicated durability: every write waits until `replicas` replicas have it
 * (`WAIT` after the write, on the same connection). A write the primary
 * applied that too few replicas acknowledged within `timeoutMs` fails with a
 * `BackendError` whose `outcomeUnknown` is true (it is on the primary, and it
 * is lost only if the primary fails before the replicas catch up); the
 * manager does not retry it.
 *
 * @example One replica, one second
 * ```ts
 * import type { RedisDurability } from "./redis.ts";
 *
 * const durability: RedisDurability = { replicas: 1, timeoutMs: 1000 };
 * ```
 */
export interface RedisDurability {
  /** How many replicas must have each write. At least 1. */
  replicas: number;
  /** How long a write waits for them, in ms (at least 1; the command timeout is raised above it). */
  timeoutMs: number;
  /**
   * Wait until the replicas have written it to their append-only files
   * (`WAITAOF 0 <replicas> <timeoutMs>`; the replicas need `appendonly yes`,
   * or they never acknowledge). On servers before Redis 7.2, which have no
   * WAITAOF, the backend falls back to WAIT. Default false: WAIT only.
   */
  aof?: boolean;
}

/**
 * Options of {@linkcode RedisBackend}.
 *
 * @example Sentinel
 * ```ts
 * import type { RedisBackendOptions } from "./redis.ts";
 *
 * const options: RedisBackendOptions = {
 *   redisOptions: { sentinels: [{ host: "127.0.0.1", port: 26379 }], name: "mymaster" },
 * };
 * ```
 */
export interface RedisBackendOptions {
  /**
   * `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS.
   * Default: the `REDIS_URL` environment variable, then `redis://127.0.0.1:6379`
   * (with Sentinel `redisOptions`, the URL only supplies password and db).
   */
  url?: string;
  /**
   * An ioredis client or Cluster you created; the backend uses it and leaves
   * it open on `close()`. For at-most-once writes give it
   * `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`.
   */
  client?: RedisClient;
  /** Treat `url` as one node of a Redis Cluster. Default false. */
  cluster?: boolean;
  /** First part of every key name (no braces). Default "ms". */
  prefix?: string;
  /**
   * Extra ioredis options (Sentinel `sentinels` and `name`, `tls`,
   * `connectTimeout`, `commandTimeout`, ...); in Cluster mode they apply to
   * every node. Queueing is always off: `enableOfflineQueue: false`,
   * `maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`.
   */
  redisOptions?: RedisConnectionOptions;
  /** Extra ioredis Cluster options (with `cluster: true`). */
  clusterOptions?: Record<string, unknown>;
  /**
   * Wait for replicas after every write: `{ replicas: 1, timeoutMs: 1000 }`.
   * Default: none (a write is acknowledged once the primary applied it; a
   * failover may lose the last writes). See {@linkcode RedisDurability}.
   */
  durability?: RedisDurability;
}
