// Replicated durability of the Redis backend (the `durability` option): every
// write is followed, on the same connection, by WAIT (or WAITAOF), so it is
// acknowledged only once that many replicas have it. The two go out as one
// pipeline: one round trip, and in a Cluster ioredis sends a pipeline to the
// node that owns its keys' slot, so the WAIT runs where the write ran.
//
// A write the primary applied but too few replicas acknowledged in time is an
// outcome-unknown BackendError, never retried by the manager: the write is on
// the primary and survives unless the primary fails before the replicas catch
// up; it is not a failed write to repeat, and how long to wait for replicas
// beyond timeoutMs is the caller's decision.
import { BackendError, ValidationError } from "../errors.ts";
import { type IoRedisClient, isCluster } from "./_redis_connect.ts";
import type { LuaScript } from "./_redis_scripts.ts";
import type { RedisBackendOptions, RedisDurability } from "./_redis_options.ts";

/** Checks the `durability` option; returns it, or undefined when not given. */
export function validateDurability(value: unknown): Required<RedisDurability> | undefined {
  if (value === undefined) return undefined;
  const bad = (why: string) =>
    new ValidationError(
      `The durability option is invalid: ${why}. Use { replicas: 1, timeoutMs: 1000 } ` +
        "(aof: true to wait for the replicas' append-only files), or leave it out",
    );
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw bad("it must be an object");
  }
  const { replicas, timeoutMs, aof, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw bad(`unknown field ${JSON.stringify(unknown[0])}`);
  if (!Number.isSafeInteger(replicas) || (replicas as number) < 1) {
    throw bad(`replicas must be a whole number of at least 1, got ${String(replicas)}`);
  }
  // WAIT's 0 means "forever": a write would hang for as long as a replica is away.
  if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 1) {
    throw bad(`timeoutMs must be a whole number of ms, at least 1, got ${String(timeoutMs)}`);
  }
  if (aof !== undefined && typeof aof !== "boolean") {
    throw bad(`aof must be a boolean, got ${typeof aof}`);
  }
  return { replicas: replicas as number, timeoutMs: timeoutMs as number, aof: aof ?? false };
}

/**
 * The backend's options with a command timeout that outlasts a wait for
 * replicas (a client the caller passed is checked by Durability instead).
 */
export function withWaitTime(options: RedisBackendOptions, waitMs: number): RedisBackendOptions {
  if (options.client !== undefined || options.redisOptions?.commandTimeout !== undefined) {
    return options;
  }
  const commandTimeout = Math.max(5000, waitMs + 5000);
  return { ...options, redisOptions: { ...options.redisOptions, commandTimeout } };
}

/** A pipeline's replies: [error, result] per command. */
type Replies = [Error | null, unknown][];

/** Runs writes and waits for the replicas after each. */
export class Durability {
  readonly #options: Required<RedisDurability>;
  readonly #where: string;
  /** False once the server answered WAITAOF with "unknown command" (Redis before 7.2). */
  #waitAof: boolean;

  /** Throws ValidationError when `client` would time out a command before its wait ends. */
  constructor(
    options: Required<RedisDurability>,
    client: IoRedisClient,
    where: string,
    /** The backend's own command timeout, when it opened the client. */
    ownTimeoutMs?: number,
  ) {
    const commandTimeout = ownTimeoutMs ??
      (isCluster(client)
        ? client.options.redisOptions?.commandTimeout
        : client.options.commandTimeout);
    if (commandTimeout !== undefined && commandTimeout <= options.timeoutMs) {
      throw new ValidationError(
        `The client's commandTimeout (${commandTimeout} ms) must be longer than ` +
          `durability.timeoutMs (${options.timeoutMs} ms), or every wait for replicas fails`,
      );
    }
    this.#options = options;
    this.#where = where;
    this.#waitAof = options.aof;
  }

  /** The wait command for the options: WAITAOF 0 <n> <ms>, or WAIT <n> <ms>. */
  #wait(): [string, ...string[]] {
    const { replicas, timeoutMs } = this.#options;
    return this.#waitAof
      ? ["WAITAOF", "0", String(replicas), String(timeoutMs)]
      : ["WAIT", String(replicas), String(timeoutMs)];
  }

  /**
   * Runs a write script and waits for the replicas; returns the script's
   * reply. `request` names the request id and the namespace's change counter:
   * a retry of a failed attempt (same id) increments the counter after the
   * script. The script writes nothing when it finds its id applied (the lost
   * reply case), and WAIT counts from the connection's last write, which on a
   * new connection is none; the increment makes the wait cover everything the
   * primary holds, the first attempt's write included.
   */
  async script(
    client: IoRedisClient,
    s: LuaScript,
    keys: string[],
    args: string[],
    what: string,
    request?: { id: string; chg: string },
  ): Promise<unknown> {
    const retry = request !== undefined && this.#failed.has(request.id);
    // Counted as failed until its reply arrives: the backend's command timeout
    // may give up on this attempt without an error reaching this function.
    this.#remember(request);
    const send = (eval_: boolean) => {
      const p = client.pipeline();
      if (eval_) p.eval(s.lua, keys.length, ...keys, ...args);
      else p.evalsha(s.sha, keys.length, ...keys, ...args);
      if (retry) p.incr(request.chg);
      return exec(p.call(...this.#wait()));
    };
    let replies = await send(false);
    if (String(replies[0]?.[0]?.message).startsWith("NOSCRIPT")) replies = await send(true);
    const [error, result] = replies[0] ?? [new Error("no reply to the script")];
    // The write failed (or its reply was lost): an ordinary error, retried by id when transient.
    if (error) throw error;
    if (request) this.#failed.delete(request.id);
    await this.#check(client, keys[0]!, replies[replies.length - 1], what);
    return result;
  }

  /** Ids of requests whose last attempt failed before the script's reply (at most 1000). */
  readonly #failed = new Set<string>();

  #remember(request: { id: string } | undefined): void {
    if (!request) return;
    this.#failed.add(request.id);
    if (this.#failed.size > 1000) this.#failed.delete(this.#failed.values().next().value!);
  }

  /** Waits for the replicas after a write already made on `client` (`anchor`: a key of its slot). */
  async after(client: IoRedisClient, anchor: string, what: string): Promise<void> {
    await this.#check(client, anchor, await this.#waitAlone(client, anchor), what);
  }

  /** WAIT on the connection of `anchor`'s node; a Cluster routes a pipeline by its keys. */
  async #waitAlone(client: IoRedisClient, anchor: string): Promise<[Error | null, unknown]> {
    if (!isCluster(client)) {
      return await client.call(...this.#wait()).then((r) => [null, r], (e) => [e as Error, null]);
    }
    const replies = await exec(client.pipeline().exists(anchor).call(...this.#wait()));
    return replies[1] ?? [new Error("no reply to WAIT"), null];
  }

  async #check(
    client: IoRedisClient,
    anchor: string,
    reply: [Error | null, unknown] | undefined,
    what: string,
  ): Promise<void> {
    let [error, result] = reply ?? [new Error("no reply to WAIT"), null];
    if (error && this.#waitAof && /unknown command/i.test(error.message)) {
      // Redis before 7.2 has no WAITAOF: WAIT confirms the replicas hold it in memory.
      this.#waitAof = false;
      [error, result] = await this.#waitAlone(client, anchor);
    }
    const { replicas, timeoutMs } = this.#options;
    const got = Array.isArray(result) ? Number(result[1]) : Number(result);
    if (!error && got >= replicas) return;
    const why = error
      ? `its wait for ${replicas} replica(s) failed (${error.message})`
      : `only ${got} of ${replicas} replica(s) acknowledged it within ${timeoutMs} ms`;
    throw new BackendError(
      `Redis did not confirm the request to ${what} (${this.#where}): the primary applied it, ` +
        `but ${why}; it is lost if the primary fails before its replicas catch up. It was not ` +
        "retried: read the state to see what landed, and check the replicas (INFO replication)",
      { outcomeUnknown: true, ...(error ? { cause: error } : {}) },
    );
  }
}

async function exec(pipeline: { exec(): Promise<Replies | null> }): Promise<Replies> {
  return (await pipeline.exec()) ?? [];
}
