// The legacy-redis source's connection: the client (a URL naming a Cluster
// node opens a Cluster), SCAN per master, and reads of a key's value and
// expiry. Errors are mapped as the Redis backend maps them.
import type { Redis } from "ioredis";
import type { BackendLocation } from "../backends/_locations.ts";
import {
  createClient,
  describeClient,
  type IoRedisClient,
  isCluster,
  ReadyGate,
  toClient,
} from "../backends/_redis_connect.ts";
import { mapRedisError } from "../backends/_errors_redis.ts";
import { StateDamagedError } from "../errors.ts";

/** Where the reference's Redis is. */
export type RedisLocation = Pick<
  BackendLocation,
  "url" | "client" | "cluster" | "redisOptions" | "clusterOptions"
>;

/** One Redis key of the layout: its name in our terms, the Redis key, and the master holding it. */
export type Item = { name: string; redisKey: string; node: Redis };

/** The client, its masters, and the error mapping. */
export class Connection {
  readonly client: IoRedisClient;
  readonly #owns: boolean;
  readonly #where: string;
  readonly #secret: string | undefined;
  readonly #gate: ReadyGate;
  /** PEXPIRETIME (Redis 7) gives the exact expiry; older servers give PTTL. */
  exact = true;

  private constructor(client: IoRedisClient, owns: boolean, where: string, secret?: string) {
    this.client = client;
    this.#owns = owns;
    this.#where = where;
    this.#secret = secret;
    if (owns) client.on("error", () => {}); // errors reach callers through the gate
    const timeout = isCluster(client)
      ? client.options.redisOptions?.connectTimeout
      : client.options.connectTimeout;
    this.#gate = new ReadyGate(client, timeout ?? 5000);
  }

  /** Connects; a URL that names a Cluster node is opened as a Cluster unless `cluster` says otherwise. */
  static async open(options: RedisLocation): Promise<Connection> {
    if (options.client !== undefined) {
      const client = toClient(options.client);
      return await new Connection(client, false, describeClient(client)).#init();
    }
    const make = (cluster: boolean | undefined) => {
      const o = createClient({ ...options, cluster });
      return new Connection(o.client, true, o.where, o.secret);
    };
    let conn = make(options.cluster);
    if (options.cluster === undefined && options.redisOptions?.sentinels === undefined) {
      let info: string;
      try {
        info = await conn.run("connect", (c) => (c as Redis).info("cluster"));
      } finally {
        await conn.close();
      }
      conn = make(/^cluster_enabled:1\b/m.test(info));
    }
    return await conn.#init();
  }

  async #init(): Promise<this> {
    try {
      const info = await this.run("connect", (c) => this.masters(c)[0]!.info("server"));
      this.exact = Number(/^redis_version:(\d+)/m.exec(info)?.[1] ?? 7) >= 7;
      return this;
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Every master: the one server, or each Cluster master. */
  masters(client = this.client): Redis[] {
    return isCluster(client) ? client.nodes("master") : [client];
  }

  async run<T>(what: string, fn: (client: IoRedisClient) => Promise<T>): Promise<T> {
    try {
      await this.#gate.ready();
      return await fn(this.client);
    } catch (error) {
      throw mapRedisError(error, what, this.#where, this.#secret, this.#gate.lastError);
    }
  }

  close(): Promise<void> {
    if (this.#owns) this.client.disconnect();
    return Promise.resolve();
  }
}

/** Escapes Redis glob characters. */
export function glob(text: string): string {
  return text.replace(/[\\*?[\]]/g, "\\$&");
}

/** Every key matching `pattern` on one server, by SCAN. */
export async function scan(node: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  return out;
}

/** A reply of a MULTI or pipeline: [error, value]. */
type Reply = [Error | null, unknown];

function replyValue(redisKey: string, [error, value]: Reply): unknown {
  if (!error) return value;
  const wrongType = /^WRONGTYPE/.test(error.message);
  throw new StateDamagedError(
    `Redis key ${JSON.stringify(redisKey)} cannot be read${
      wrongType ? ": it is not a string, so it is not the legacy layout" : `: ${error.message}`
    }`,
    { cause: error },
  );
}

/** Reads items (value and expiry, one round trip per master); gone ones get null. */
export async function readItems(
  conn: Connection,
  items: Item[],
): Promise<({ text: string; expiresAt: number | null } | null)[]> {
  const out: ({ text: string; expiresAt: number | null } | null)[] = new Array(items.length);
  await conn.run("read the legacy keys", async (client) => {
    const byNode = new Map<Redis, number[]>();
    items.forEach((item, i) => {
      const list = byNode.get(item.node);
      if (list) list.push(i);
      else byNode.set(item.node, [i]);
    });
    await Promise.all([...byNode].map(async ([node, indexes]) => {
      const tx = isCluster(client) ? node.pipeline() : node.multi();
      const now = Date.now();
      for (const i of indexes) {
        const k = items[i]!.redisKey;
        tx.get(k);
        if (conn.exact) tx.pexpiretime(k);
        else tx.pttl(k);
      }
      const replies = (await tx.exec()) as Reply[] | null;
      if (!replies) throw new Error("the read transaction was aborted");
      indexes.forEach((i, j) => {
        const k = items[i]!.redisKey;
        const text = replyValue(k, replies[2 * j]!) as string | null;
        const t = Number(replyValue(k, replies[2 * j + 1]!));
        // -2: no such key (expired, in a pipeline possibly just after GET); -1: no expiry.
        out[i] = text === null || t === -2
          ? null
          : { text, expiresAt: t === -1 ? null : conn.exact ? t : now + t };
      });
    }));
  });
  return out;
}
