/**
 * The Redis backend: standalone, Sentinel and Cluster through ioredis. Every
 * commit, checkpoint, restore, delete and clear is one Lua script (atomic on
 * the server; the imports of migration use MULTI); every key of a namespace
 * carries the namespace as its hash tag (`ms:{workflow-123}:...`), so a
 * namespace lives in one Cluster slot. The key layout is documented in
 * `references/backends.md`.
 *
 * Nothing connects until the first operation. Commands are never queued while
 * the server is unreachable: an operation then fails with a transient
 * {@linkcode BackendError} within the connect timeout, and works again as soon
 * as the server is back.
 *
 * @example Open by name (the URL defaults to `REDIS_URL`)
 * ```ts ignore
 * import { StateManager } from "@adw/managing-state";
 *
 * await using state = await StateManager.open({
 *   backend: "redis",
 *   namespace: "workflow-123",
 *   url: "redis://:secret@127.0.0.1:6379/0",
 * });
 * await state.save("current_phase", "building");
 * ```
 *
 * @example Construct a backend (connects lazily)
 * ```ts
 * import { RedisBackend } from "./redis.ts";
 *
 * const backend = new RedisBackend({ url: "redis://127.0.0.1:6379/0", prefix: "ms" });
 * await backend.close();
 * ```
 *
 * @module
 */
import { compareKeys } from "../core/_keys.ts";
import { validateNamespace } from "../core/_validate.ts";
import { CheckpointExistsError, ClosedError } from "../errors.ts";
import { Inflight } from "../core/_inflight.ts";
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
  JsonValue,
  KeyPage,
  ListOptions,
  RecoveryReport,
  RequestOptions,
  RestoreOptions,
  StoredEntry,
} from "../types.ts";
import { checkpointInfo, newestFirst } from "./_shared.ts";
import {
  createClient,
  describeClient,
  type IoRedisClient,
  isCluster,
  ReadyGate,
  toClient,
} from "./_redis_connect.ts";
import { mapRedisError } from "./_errors_redis.ts";
import {
  DEFAULT_PREFIX,
  lexRange,
  pack,
  RedisLayout,
  splitInfo,
  unpack,
  validatePrefix,
} from "./_redis_layout.ts";
import type { RedisBackendOptions } from "./_redis_options.ts";
import { Durability, validateDurability, withWaitTime } from "./_redis_durability.ts";
import { scanNamespaces } from "./_redis_scan.ts";
import { TrackingFeed } from "./_redis_feed.ts";
import { Watchdog } from "./_redis_watchdog.ts";
import * as lua from "./_redis_scripts.ts";

export type {
  RedisBackendOptions,
  RedisClient,
  RedisConnectionOptions,
  RedisDurability,
} from "./_redis_options.ts";

/**
 * Stores namespaces in Redis. Safe for many processes and machines at once.
 *
 * @example
 * ```ts
 * import { StateManager } from "../mod.ts";
 * import { RedisBackend } from "./redis.ts";
 *
 * const backend = new RedisBackend({ url: "redis://127.0.0.1:6379" });
 * const state = await StateManager.open({ backend, namespace: "workflow-123" });
 * await state.close();
 * await backend.close();
 * ```
 */
export class RedisBackend implements Backend {
  /** Always "redis". */
  readonly name = "redis";
  /** Persistent (as the server is configured) and shared by many processes. */
  readonly capabilities: BackendCapabilities;
  readonly #client: IoRedisClient;
  readonly #owns: boolean;
  readonly #prefix: string;
  readonly #where: string;
  readonly #secret: string | undefined;
  readonly #gate: ReadyGate;
  /** Started operations finish before close() quits the connection. */
  readonly #inflight = new Inflight();
  /** Waits for replicas after each write (the `durability` option). */
  readonly #durability: Durability | undefined;
  /** Fails commands that take longer than commandTimeout (clients this backend opened). */
  readonly #watchdog: Watchdog | undefined;
  /** Invalidations pushed by the server (client tracking); null on Cluster. */
  readonly #feed: TrackingFeed | null;

  /** Creates the backend; nothing connects until the first operation. */
  constructor(options: RedisBackendOptions = {}) {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    validatePrefix(prefix);
    this.#prefix = prefix;
    const durability = validateDurability(options.durability);
    if (durability) options = withWaitTime(options, durability.timeoutMs);
    if (options.client !== undefined) {
      this.#client = toClient(options.client);
      this.#watchdog = undefined; // the caller's client keeps its own commandTimeout
      this.#owns = false;
      this.#where = describeClient(this.#client);
      this.#secret = undefined;
    } else {
      const opened = createClient(options);
      this.#client = opened.client;
      this.#watchdog = new Watchdog(opened.commandTimeoutMs);
      this.#owns = true;
      this.#where = opened.where;
      this.#secret = opened.secret;
      // Connection errors reach callers through the gate; without a listener
      // ioredis would print them.
      this.#client.on("error", () => {});
    }
    const client = this.#client;
    const timeout = isCluster(client)
      ? client.options.redisOptions?.connectTimeout
      : client.options.connectTimeout;
    this.#gate = new ReadyGate(this.#client, timeout ?? 5000);
    if (durability) {
      this.#durability = new Durability(durability, client, this.#where, this.#watchdog?.timeoutMs);
    }
    const feed = isCluster(client) ? null : new TrackingFeed(client, this.#watchdog);
    this.#feed = feed;
    if (feed) {
      this.watch = (ns, onChange) => {
        if (this.#inflight.closed) throw new ClosedError();
        return feed.watch(this.#layout(ns).chg, onChange);
      };
    }
    // With the feed a cached read costs one PING instead of a GET (see changeToken).
    this.capabilities = {
      persistent: true,
      multiProcess: true,
      freshReadsAreCheap: this.#feed === null,
    };
  }

  readonly #layouts = new Map<string, RedisLayout>();

  #run<T>(what: string, fn: (client: IoRedisClient) => Promise<T>): Promise<T> {
    return this.#inflight.run(() => this.#call(what, fn));
  }

  async #call<T>(what: string, fn: (client: IoRedisClient) => Promise<T>): Promise<T> {
    let sent = false; // past the gate: the command may reach the server
    try {
      // Skip the extra await on the hot path: most calls find the client ready.
      if (this.#client.status !== "ready") await this.#gate.ready();
      sent = true;
      const watchdog = this.#watchdog;
      return await (watchdog ? watchdog.guard(fn(this.#client)) : fn(this.#client));
    } catch (error) {
      throw mapRedisError(error, what, this.#where, this.#secret, this.#gate.lastError, sent);
    }
  }

  /**
   * Runs a write script; with `durability`, waits for the replicas on the
   * same connection (`request`: its id and the namespace's change counter).
   */
  #write(
    what: string,
    s: lua.LuaScript,
    keys: string[],
    args: string[],
    request?: { id: string; chg: string },
  ): Promise<unknown> {
    const durability = this.#durability;
    return this.#run(
      what,
      (c) =>
        durability
          ? durability.script(c, s, keys, args, what, request)
          : lua.runScript(c, s, keys, args),
    );
  }

  #layout(ns: string): RedisLayout {
    let layout = this.#layouts.get(ns);
    if (!layout) {
      validateNamespace(ns); // whoever passed it: "a}:k:x" would reach into another namespace
      layout = new RedisLayout(this.#prefix, ns);
      this.#layouts.set(ns, layout);
    }
    return layout;
  }

  /** Reads keys with one MGET; missing or expired ones are null. */
  async get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    const l = this.#layout(ns);
    if (keys.length === 0) return [];
    const names = keys.map((key) => l.data + key);
    const texts = await this.#run(`read keys of namespace "${ns}"`, (c) => c.mget(...names));
    const now = Date.now();
    return texts.map((text, i) => {
      if (text === null || text === undefined) return null;
      const entry = unpack(keys[i]!, text, names[i]!);
      return entry.expiresAt !== null && entry.expiresAt <= now ? null : entry;
    });
  }

  /** Checks versions and writes, in one script. */
  async commit(ns: string, op: CommitOp): Promise<CommitResult> {
    const l = this.#layout(ns);
    const only = op.sets[0];
    if (
      op.sets.length === 1 && op.checks.length === 0 && op.deletes.length === 0 &&
      only!.expiresAt === null
    ) {
      // The common save takes a smaller script: about 20 us less per call.
      const keys = [l.idx, l.ttl, l.chg, l.data + only!.key, l.req];
      await this.#write(`write to namespace "${ns}"`, lua.SAVE, keys, [
        only!.key,
        pack(op.version, null, only!.value),
        op.id,
        String(Date.now()),
      ], { id: op.id, chg: l.chg });
      return { ok: true, version: op.version };
    }
    const keys = [
      l.idx,
      l.ttl,
      l.chg,
      l.req,
      ...op.checks.map((c) => l.data + c.key),
      ...op.deletes.map((key) => l.data + key),
      ...op.sets.map((s) => l.data + s.key),
    ];
    const args = [
      String(Date.now()),
      String(op.checks.length),
      String(op.deletes.length),
      String(op.sets.length),
      l.data,
      op.id,
      ...op.checks.map((c) => (c.version === null ? "-" : `=${c.version}`)),
      ...op.sets.flatMap((s) => [
        s.expiresAt === null ? "" : String(s.expiresAt),
        pack(op.version, s.expiresAt, s.value),
      ]),
    ];
    const done = await this.#write(`write to namespace "${ns}"`, lua.COMMIT, keys, args, {
      id: op.id,
      chg: l.chg,
    });
    return Number(done) === 1 ? { ok: true, version: op.version } : { ok: false };
  }

  /** Lists live keys in byte order from the namespace's sorted-set index. */
  async list(ns: string, options: ListOptions): Promise<KeyPage> {
    const l = this.#layout(ns);
    const [min, max] = lexRange(options.prefix ?? "", options.cursor);
    const limit = options.limit;
    const want = limit === undefined ? 0 : limit + 1;
    const keys = await this.#run(
      `list keys of namespace "${ns}"`,
      (c) =>
        lua.runScript(c, lua.LIST, [l.idx, l.ttl], [
          min,
          max,
          String(want),
          String(Date.now()),
          l.data,
        ]),
    ) as string[];
    if (limit === undefined || keys.length <= limit) return { keys, cursor: null };
    const page = keys.slice(0, limit);
    return { keys: page, cursor: page[page.length - 1]! };
  }

  /** Copies the live keys into a checkpoint hash, in one script. */
  async checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    const l = this.#layout(ns);
    // The script appends the parent (the head it reads) and the closing brace.
    const info = JSON.stringify({
      createdAt: request.createdAt,
      auto: request.auto,
      metadata: request.metadata,
    }).slice(0, -1) + ',"parent":';
    const result = await this.#write(
      `take checkpoint "${request.name}" of namespace "${ns}"`,
      lua.CHECKPOINT,
      [l.idx, l.cps, l.cp + request.name, l.req, l.head],
      [
        String(Date.now()),
        l.data,
        request.name,
        request.overwrite ? "1" : "0",
        info,
        request.id,
        String(request.createdAt),
      ],
      { id: request.id, chg: l.chg },
    ) as [number, number | string, string?] | null;
    if (!result) throw new CheckpointExistsError(ns, request.name);
    if (Number(result[0]) === -1) {
      // Applied before (a lost reply): the checkpoint as it is now.
      const stored = String(result[1]);
      return stored === "" ? checkpointInfo(request, []) : parseInfo(request.name, stored);
    }
    const parent = result[2] ? String(result[2]) : null;
    return {
      ...checkpointInfo({ ...request, parent }, []),
      keyCount: Number(result[0]),
      bytes: Number(result[1]),
    };
  }

  /** Lists checkpoints, newest first. */
  async listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    const l = this.#layout(ns);
    const all = await this.#run(
      `list checkpoints of namespace "${ns}"`,
      (c) => c.hgetall(l.cps),
    );
    return Object.entries(all).map(([name, text]) => parseInfo(name, text)).sort(newestFirst);
  }

  /** Reads a checkpoint's entries in key order. */
  async readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    const l = this.#layout(ns);
    const flat = await this.#run(
      `read checkpoint "${name}" of namespace "${ns}"`,
      (c) => lua.runScript(c, lua.READ_CHECKPOINT, [l.cps, l.cp + name], [name]),
    ) as string[] | null;
    if (!flat) return null;
    const entries: StoredEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      entries.push(unpack(flat[i]!, flat[i + 1]!, `${l.cp}${name} / ${flat[i]}`));
    }
    return entries.sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Makes the namespace exactly the checkpoint, in one script. */
  async restore(ns: string, name: string, options: RestoreOptions): Promise<boolean> {
    const l = this.#layout(ns);
    const done = await this.#write(
      `restore checkpoint "${name}" of namespace "${ns}"`,
      lua.RESTORE,
      [l.idx, l.ttl, l.chg, l.cps, l.cp + name, l.req, l.head],
      [String(Date.now()), l.data, name, options.id, ...(options.keep?.prefixes ?? [])],
      { id: options.id, chg: l.chg },
    );
    return Number(done) === 1;
  }

  /** Writes a checkpoint from given entries in one MULTI (one slot: the namespace's hash tag). */
  async importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    const l = this.#layout(ns);
    const fields: string[] = [];
    for (const e of entries) fields.push(e.key, pack(e.version, e.expiresAt, e.value));
    const meta = JSON.stringify({
      createdAt: info.createdAt,
      auto: info.auto,
      metadata: info.metadata,
      parent: info.parent,
    });
    const { keyCount, bytes } = checkpointInfo(info, entries);
    await this.#run(`import checkpoint "${info.name}" of namespace "${ns}"`, async (c) => {
      const tx = c.multi().del(l.cp + info.name);
      // HSET in slices keeps each command a reasonable size.
      for (let i = 0; i < fields.length; i += 2000) {
        tx.hset(l.cp + info.name, ...fields.slice(i, i + 2000));
      }
      tx.hset(l.cps, info.name, `${keyCount}:${bytes}:${meta}`);
      const results = await tx.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error("transaction aborted");
      await this.#durability?.after(
        c,
        l.cps,
        `import checkpoint "${info.name}" of namespace "${ns}"`,
      );
    });
  }

  /** Deletes a checkpoint. */
  async deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean> {
    const l = this.#layout(ns);
    const done = await this.#write(
      `delete checkpoint "${name}" of namespace "${ns}"`,
      lua.DELETE_CHECKPOINT,
      [l.cps, l.cp + name, l.req],
      [name, options.id, String(Date.now())],
      { id: options.id, chg: l.chg },
    );
    return Number(done) === 1;
  }

  /** Namespaces with live keys or checkpoints, found with SCAN on every master. */
  async namespaces(): Promise<string[]> {
    return await this.#run("list namespaces", (c) => scanNamespaces(c, this.#prefix));
  }

  /** Deletes every key and checkpoint of the namespace, in one script. */
  async clear(ns: string, options: RequestOptions): Promise<void> {
    const l = this.#layout(ns);
    await this.#write(
      `clear namespace "${ns}"`,
      lua.CLEAR,
      [l.idx, l.ttl, l.chg, l.cps, l.req, l.head],
      [l.data, l.cp, options.id, String(Date.now())],
      { id: options.id, chg: l.chg },
    );
  }

  /** The checkpoint last taken or restored (one HGETALL). */
  async head(ns: string): Promise<Head | null> {
    const l = this.#layout(ns);
    const h = await this.#run(`read head of namespace "${ns}"`, (c) => c.hgetall(l.head));
    if (h.name === undefined) return null;
    return { name: h.name, via: h.via === "restore" ? "restore" : "checkpoint", at: Number(h.at) };
  }

  /** Sets the head as given, in one MULTI. */
  async importHead(ns: string, head: Head | null): Promise<void> {
    const l = this.#layout(ns);
    await this.#run(`import head of namespace "${ns}"`, async (c) => {
      const tx = c.multi().del(l.head);
      if (head) tx.hset(l.head, "name", head.name, "via", head.via, "at", String(head.at));
      const results = await tx.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error("transaction aborted");
      await this.#durability?.after(c, l.head, `import head of namespace "${ns}"`);
    });
  }

  /**
   * The namespace's change token. Standalone and Sentinel: counted from the
   * invalidations the server pushes for the namespace's change counter,
   * proven current by one PING on the invalidation connection
   * (`_redis_feed.ts`). Cluster: the change counter itself (one GET); every
   * write script increments it.
   */
  async changeToken(ns: string): Promise<string> {
    const l = this.#layout(ns);
    const feed = this.#feed;
    if (feed) {
      // The feed never fails (a broken feed answers a fresh token) and bounds its own commands.
      if (this.#inflight.closed) throw new ClosedError();
      // While the server is not reachable, do not wait for the feed: the read reports the outage.
      if (this.#client.status !== "ready") return feed.freshToken();
      return await feed.token(l.chg);
    }
    const token = await this.#run(`read change token of namespace "${ns}"`, (c) => c.get(l.chg));
    return token ?? "0";
  }

  /**
   * Pushes a hint for every commit to a namespace (client tracking; set on
   * standalone and Sentinel only, Cluster watchers poll `changeToken()`).
   */
  readonly watch?: (ns: string, onChange: (hint: ChangeHint) => void) => ChangeFeed;

  /** Drops index entries whose keys expired or vanished (evicted, deleted by hand). */
  async recover(ns: string): Promise<RecoveryReport> {
    const l = this.#layout(ns);
    const [expired, dangling] = await this.#write(`recover namespace "${ns}"`, lua.RECOVER, [
      l.idx,
      l.ttl,
      l.chg,
    ], [String(Date.now()), l.data]) as [number, number];
    const actions: string[] = [];
    if (expired > 0) actions.push(`purged ${expired} expired keys from the index`);
    if (dangling > 0) actions.push(`dropped ${dangling} index entries whose keys were gone`);
    return { actions, quarantined: [], ok: true };
  }

  /** Closes the connection if this backend opened it (QUIT, then disconnect). */
  async close(): Promise<void> {
    if (!await this.#inflight.close()) return;
    await this.#feed?.close();
    if (!this.#owns) return;
    const client = this.#client;
    if (client.status === "ready") {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        client.quit().catch(() => {}),
        new Promise((resolve) => (timer = setTimeout(resolve, 1000))),
      ]);
      clearTimeout(timer);
    }
    client.disconnect();
  }
}

/** A checkpoint's info from its record "<keyCount>:<bytes>:<info JSON>". */
function parseInfo(name: string, text: string): CheckpointInfo {
  const { keyCount, bytes, json } = splitInfo(text);
  const info = JSON.parse(json) as {
    createdAt: number;
    auto: boolean;
    metadata: Record<string, JsonValue>;
    parent?: string | null;
  };
  return {
    name,
    keyCount,
    bytes,
    createdAt: info.createdAt,
    auto: info.auto,
    metadata: info.metadata,
    parent: info.parent ?? null,
  };
}
