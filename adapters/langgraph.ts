/**
 * A LangGraph JS checkpointer (`BaseCheckpointSaver`) over any backend of
 * managing-state: graphs keep their threads in JSON files, SQLite, Redis,
 * Deno KV or memory, with atomic, crash-safe puts, per-thread retention and
 * channel values stored once per version (growing lists as deltas).
 *
 * @example
 * ```ts
 * import { ManagingStateSaver } from "./langgraph.ts";
 * import { emptyCheckpoint } from "@langchain/langgraph-checkpoint";
 * import assert from "node:assert/strict";
 *
 * await using saver = new ManagingStateSaver({ backend: "memory" });
 * const config = { configurable: { thread_id: "t1" } };
 * const saved = await saver.put(config, emptyCheckpoint(), { source: "input", step: -1, parents: {} }, {});
 * assert.equal((await saver.getTuple(config))?.config.configurable?.checkpoint_id, saved.configurable?.checkpoint_id);
 * ```
 *
 * @module
 */
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointTuple,
  getCheckpointId,
  maxChannelVersion,
  type PendingWrite,
  type SerializerProtocol,
  TASKS,
  WRITES_IDX_MAP,
} from "@langchain/langgraph-checkpoint";
import type { RunnableConfig } from "@langchain/core/runnables";
import { isDeepStrictEqual } from "node:util";
import {
  type AtomicOperation,
  ConflictError,
  type OpenOptions,
  StateManager,
  ValidationError,
} from "../mod.ts";
import { type AdapterTarget, ManagerPool } from "./_managers.ts";
import { type Blob, decode, delta, encode, isDelta } from "./_langgraph_codec.ts";
import { type CachedValue, slot, ThreadCache } from "./_langgraph_cache.ts";
import {
  blobKey,
  checkpointKey,
  type CheckpointRecord,
  parts,
  prefix,
  threadKey,
  type ThreadRecord,
  writeKey,
  type WriteRecord,
} from "./_langgraph_keys.ts";
import { listAll, type Memo, readValues, readWrites } from "./_langgraph_read.ts";
import {
  deletePruned,
  isExpired,
  planPrune,
  type RetentionOptions,
  SWEEP_EVERY,
  sweepValues,
  validateRetention,
} from "./_langgraph_retention.ts";

export type { RetentionOptions };

/** Settings of the saver itself. */
export interface SaverSettings {
  /** How values are serialised; default LangGraph's `JsonPlusSerializer`. */
  serde?: SerializerProtocol;
  /** Per-thread retention; default keeps everything. */
  retention?: RetentionOptions;
  /** Memory for the newest channel values of recent threads, in bytes. Default 32 MiB. */
  cacheBytes?: number;
}

/** Options of {@linkcode ManagingStateSaver}: where to store (as for `StateManager.open()`) and the saver's settings. */
export type ManagingStateSaverOptions = OpenOptions & SaverSettings & {
  /** The namespace that holds every thread. Default "langgraph". */
  namespace?: string;
};

/** What {@linkcode ManagingStateSaver.prune} deleted. */
export interface PruneReport {
  /** Threads deleted because their TTL ran out. */
  threads: number;
  /** Checkpoints pruned by `keepLast` / `maxAgeMs`. */
  checkpoints: number;
  /** Stored channel values no kept checkpoint needed. */
  values: number;
}

/** Attempts of a put or delete that keeps losing races on one thread. */
const MAX_ATTEMPTS = 100;

/**
 * A LangGraph checkpointer storing every thread in one namespace of a
 * managing-state backend (layout: references/langgraph.md). Pass
 * `OpenOptions` plus saver settings, or a `StateManager` (its namespace
 * holds the threads) and the settings. Nothing opens until first use;
 * `close()` closes what the saver opened.
 *
 * Every `put` is one atomic commit (checkpoint, changed channel values,
 * thread record and any pruning), so a process killed mid-put leaves the
 * previous checkpoint readable, never half of a new one.
 *
 * @example Keep the newest 20 checkpoints per thread, and threads for a week
 * ```ts
 * import { ManagingStateSaver } from "./langgraph.ts";
 *
 * const saver = new ManagingStateSaver({
 *   backend: "memory",
 *   retention: { keepLast: 20, threadTtlMs: 7 * 24 * 3600_000 },
 * });
 * await saver.close();
 * ```
 */
export class ManagingStateSaver extends BaseCheckpointSaver {
  readonly #pool: ManagerPool;
  readonly #retention: RetentionOptions;
  readonly #cache: ThreadCache;

  /** A saver on the backend that `target` names or holds. */
  constructor(target: ManagingStateSaverOptions | StateManager = {}, settings: SaverSettings = {}) {
    const given = target instanceof StateManager ? settings : { ...target, ...settings };
    super(given.serde);
    let open: AdapterTarget = target;
    if (!(target instanceof StateManager)) {
      const { serde: _s, retention: _r, cacheBytes: _c, ...rest } = target;
      open = rest;
    }
    this.#pool = new ManagerPool(open, "langgraph");
    this.#retention = validateRetention(given.retention ?? {});
    const cacheBytes = given.cacheBytes ?? 32 * 1024 * 1024;
    if (!Number.isInteger(cacheBytes) || cacheBytes < 0) {
      throw new ValidationError(`cacheBytes must be a non-negative integer, got ${cacheBytes}`);
    }
    this.#cache = new ThreadCache(cacheBytes);
  }

  /** The checkpoint of `config` (its `checkpoint_id`, else the thread's newest), or undefined. */
  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const thread = threadOf(config, false);
    if (thread === undefined) return undefined;
    const ns = nsOf(config);
    const state = await this.#pool.get();
    const tKey = threadKey(thread);
    // One read for the thread record and the checkpoint: the asked-for one,
    // else the newest this saver knows of (checked against the record read).
    const asked = getCheckpointId(config) || undefined;
    const guess = asked ?? this.#cache.get(thread)?.record.latest[ns];
    const keys = guess === undefined ? [tKey] : [tKey, checkpointKey(thread, ns, guess)];
    const [entry, found] = await state.getEntries<ThreadRecord | CheckpointRecord>(keys);
    if (!entry || isExpired(entry.value as ThreadRecord, this.#retention, Date.now())) {
      return undefined;
    }
    const record = entry.value as ThreadRecord;
    const id = asked ?? record.latest[ns];
    if (!id) return undefined;
    this.#remember(thread, entry.version, record);
    const checkpoint = id === guess
      ? found?.value as CheckpointRecord | undefined
      : await state.load<CheckpointRecord | undefined>(checkpointKey(thread, ns, id), undefined);
    if (!checkpoint) return undefined;
    return await this.#tuple(state, thread, ns, id, checkpoint, entry.version);
  }

  /**
   * Checkpoints newest first: of a thread (and checkpoint namespace) or of
   * all threads, filtered by metadata, before a checkpoint, up to a limit.
   */
  async *list(
    config: RunnableConfig,
    options: CheckpointListOptions = {},
  ): AsyncGenerator<CheckpointTuple> {
    const { before, filter } = options;
    let limit = options.limit;
    const thread = threadOf(config, false);
    const ns: string | undefined = config.configurable?.checkpoint_ns;
    const only: string | undefined = config.configurable?.checkpoint_id;
    const beforeId: string | undefined = before?.configurable?.checkpoint_id;
    const state = await this.#pool.get();
    const keys = await listAll(state, prefix("c", thread, thread === undefined ? undefined : ns));
    const found = keys.map((key) => {
      const [t, n, id] = parts(key) as [string, string, string];
      return { key, thread: t, ns: n, id };
    }).filter((c) =>
      (ns === undefined || c.ns === ns) && (!only || c.id === only) &&
      (beforeId === undefined || c.id < beforeId)
    );
    found.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const threads = [...new Set(found.map((c) => c.thread))];
    const records = await state.loadMany(threads.map(threadKey)) as unknown as Record<
      string,
      ThreadRecord
    >;
    const now = Date.now();
    const live = found.filter((c) => {
      const record = records[threadKey(c.thread)];
      return record !== undefined && !isExpired(record, this.#retention, now);
    });
    const memo: Memo = new Map();
    for (let i = 0; i < live.length; i += 32) {
      const batch = live.slice(i, i + 32);
      const stored = await state.loadMany(batch.map((c) => c.key)) as unknown as Record<
        string,
        CheckpointRecord
      >;
      for (const c of batch) {
        const record = stored[c.key];
        if (!record) continue; // deleted since it was listed
        if (filter && Object.keys(filter).length > 0) {
          const { metadata } = await this.#decodeRecord(record);
          const match = Object.entries(filter).every(([k, v]) =>
            isDeepStrictEqual((metadata as Record<string, unknown> | undefined)?.[k], v)
          );
          if (!match) continue;
        }
        if (limit !== undefined && limit-- <= 0) return;
        yield await this.#tuple(state, c.thread, c.ns, c.id, record, undefined, memo);
      }
    }
  }

  /**
   * Stores a checkpoint in one atomic commit: the checkpoint, the values of
   * the channels in `newVersions` (each once per version), the thread record
   * and, with retention set, the pruning of old checkpoints.
   */
  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const thread = threadOf(config, true, "put checkpoint");
    const ns = nsOf(config);
    const parent: string | undefined = config.configurable?.checkpoint_id;
    const id = checkpoint.id;
    if (typeof id !== "string" || id === "") {
      throw new ValidationError("put(): the checkpoint has no id");
    }
    const { channel_values: values = {}, ...rest } = checkpoint;
    const c = await encode(this.serde, { checkpoint: rest, metadata });
    const changed = await Promise.all(
      Object.entries(newVersions)
        .filter(([channel]) => channel in values)
        .map(async ([channel, version]) => ({
          channel,
          version: String(version),
          typed: await encode(this.serde, (values as Record<string, unknown>)[channel]),
        })),
    );
    const state = await this.#pool.get();
    const tKey = threadKey(thread);
    const noDelta = new Set<string>();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // The thread as this saver last saw it: the commit checks that nobody changed it since.
      const known = attempt === 1 ? this.#cache.get(thread) : undefined;
      const entry = known
        ? { version: known.tag, value: known.record }
        : (await state.getEntries<ThreadRecord>([tKey]))[0] ?? null;
      const now = Date.now();
      const expired = entry !== null && isExpired(entry.value, this.#retention, now);
      const op = state.atomic().check(tKey, entry?.version ?? null);
      if (expired) await this.#deleteThreadKeys(state, op, thread);
      const values = entry && !expired
        ? known?.values ?? this.#cache.values(thread, entry.version)
        : undefined;
      const fresh = new Map(values);
      const written = new Map<string, Blob>();
      for (const { channel, version, typed } of changed) {
        const key = blobKey(thread, ns, channel, version);
        let blob: Blob = typed;
        const base = values?.get(slot(ns, channel));
        const d = base && "s" in typed && !noDelta.has(key)
          ? delta(typed.s, typed.t, version, base)
          : undefined;
        if (d) blob = d;
        op.set(key, blob);
        written.set(key, blob);
        if ("s" in typed) {
          const depth = isDelta(blob) ? blob.depth : 0;
          fresh.set(slot(ns, channel), { version, t: typed.t, text: typed.s, depth });
        }
      }
      const record: CheckpointRecord = { p: parent ?? null, at: now, c };
      op.set(checkpointKey(thread, ns, id), record);
      const previous = entry && !expired ? entry.value : undefined;
      const latest = { ...previous?.latest };
      if (latest[ns] === undefined || id > latest[ns]) latest[ns] = id;
      const next: ThreadRecord = { at: now, latest };
      if (previous?.pruned) next.pruned = previous.pruned;
      const swept = expired ? new Set<string>() : await this.#retain(
        state,
        op,
        { thread, ns, id, checkpoint, written },
        previous,
        next,
        now,
      );
      op.set(tKey, next);
      const result = await op.commit();
      if (result.ok) {
        for (const [s, value] of fresh) {
          if (swept.has(slotBlob(thread, s, value))) fresh.delete(s);
        }
        this.#cache.set(thread, { tag: result.version, record: next, values: fresh });
        return { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: id } };
      }
      // Lost a race: read the thread again, and store whole values this time.
      this.#cache.drop(thread);
      for (const { channel, version } of changed) {
        noDelta.add(blobKey(thread, ns, channel, version));
      }
    }
    throw new ConflictError(
      `put() on LangGraph thread ${
        JSON.stringify(thread)
      } lost ${MAX_ATTEMPTS} races to other writers`,
    );
  }

  /**
   * Stores writes of a task against a checkpoint. A regular write is stored
   * once (a repeat is ignored); a special one (error, interrupt, ...) replaces
   * the previous one, as LangGraph's own savers do.
   */
  async putWrites(
    config: RunnableConfig,
    writes: PendingWrite[],
    taskId: string,
    taskPath = "",
  ): Promise<void> {
    const thread = threadOf(config, true, "put writes");
    const ns = nsOf(config);
    const id: string | undefined = config.configurable?.checkpoint_id;
    if (!id) {
      throw new ValidationError(
        'putWrites(): the config has no "checkpoint_id" in "configurable": pass the config put() returned',
      );
    }
    const items = await Promise.all(writes.map(async ([channel, value], i) => {
      const idx = WRITES_IDX_MAP[channel] ?? i;
      const typed = await encode(this.serde, value);
      const record: WriteRecord = { ...typed, task: taskId, idx, ch: channel, path: taskPath };
      return { key: writeKey(thread, ns, id, taskId, idx), idx, record };
    }));
    const state = await this.#pool.get();
    const regular = items.filter((w) => w.idx >= 0).map((w) => w.key);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const existing = regular.length ? await state.loadMany(regular) : {};
      const op = state.atomic();
      for (const w of items) {
        if (w.idx < 0) op.set(w.key, w.record);
        else if (!Object.hasOwn(existing, w.key)) op.check(w.key, null).set(w.key, w.record);
      }
      if ((await op.commit()).ok) return;
    }
    throw new ConflictError(
      `putWrites() on LangGraph thread ${JSON.stringify(thread)} kept losing races`,
    );
  }

  /** Deletes a thread: its checkpoints, values and writes, in one atomic commit. */
  async deleteThread(threadId: string): Promise<void> {
    const thread = String(threadId);
    const state = await this.#pool.get();
    const tKey = threadKey(thread);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const entry = await state.getEntry(tKey);
      const op = state.atomic().check(tKey, entry?.version ?? null);
      await this.#deleteThreadKeys(state, op, thread);
      if ((await op.commit()).ok) {
        this.#cache.drop(thread);
        return;
      }
    }
    throw new ConflictError(`deleteThread(${JSON.stringify(thread)}) kept losing races`);
  }

  /**
   * Applies retention to every thread now: deletes expired threads, prunes
   * checkpoints beyond `keepLast` or older than `maxAgeMs`, and deletes
   * stored values no kept checkpoint needs. Puts prune their own thread as
   * they go; call this to reclaim threads nobody writes to any more.
   */
  async prune(): Promise<PruneReport> {
    const state = await this.#pool.get();
    const report: PruneReport = { threads: 0, checkpoints: 0, values: 0 };
    for (const key of await listAll(state, "t/")) {
      const thread = parts(key)[0]!;
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const entry = await state.getEntry<ThreadRecord>(key);
        if (!entry) break;
        const op = state.atomic().check(key, entry.version);
        const now = Date.now();
        let counts = { threads: 1, checkpoints: 0, values: 0 };
        if (isExpired(entry.value, this.#retention, now)) {
          await this.#deleteThreadKeys(state, op, thread);
        } else {
          counts = { threads: 0, checkpoints: 0, values: 0 };
          for (const ns of Object.keys(entry.value.latest)) {
            const plan = await planPrune(state, thread, ns, [], this.#retention, now, true);
            await deletePruned(state, op, thread, ns, plan.pruned);
            const swept = await sweepValues(
              state,
              op,
              thread,
              ns,
              plan.kept,
              new Map(),
              new Map(),
              (r) => this.#versionsOf(r),
            );
            counts.checkpoints += plan.pruned.length;
            counts.values += swept.size;
          }
          // Rewritten so other processes' caches of this thread are dropped.
          op.set(key, { ...entry.value, pruned: {} });
        }
        if ((await op.commit()).ok) {
          this.#cache.drop(thread);
          report.threads += counts.threads;
          report.checkpoints += counts.checkpoints;
          report.values += counts.values;
          break;
        }
      }
    }
    return report;
  }

  /**
   * The next channel version: the next integer plus a random fraction, so
   * two branches of a thread (a fork) never store different values under
   * one version, as integers would. Versions still only grow.
   */
  override getNextVersion(current: number | undefined): number {
    const base = typeof current === "number"
      ? Math.floor(current)
      // A thread written by a saver with string versions ("<counter>.<suffix>").
      : Number.parseInt(String(current ?? "0").split(".")[0]!, 10) || 0;
    // Uniqueness, not secrecy: Math.random's 52 bits are plenty and cost nothing.
    return base + 1 + Math.random();
  }

  /** Closes the manager (and backend) the saver opened. */
  async close(): Promise<void> {
    await this.#pool.close();
  }

  /** Closes the saver at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Notes a thread record read at `version`, keeping known values if they are of it. */
  #remember(thread: string, version: string, record: ThreadRecord): void {
    const values = this.#cache.values(thread, version) ?? new Map<string, CachedValue>();
    this.#cache.set(thread, { tag: version, record, values });
  }

  async #tuple(
    state: StateManager,
    thread: string,
    ns: string,
    id: string,
    record: CheckpointRecord,
    tag: string | undefined,
    memo?: Memo,
  ): Promise<CheckpointTuple> {
    const { checkpoint: rest, metadata } = await this.#decodeRecord(record);
    const known = tag === undefined ? undefined : this.#cache.values(thread, tag);
    const [{ values, read }, pendingWrites] = await Promise.all([
      readValues(state, this.serde, thread, ns, rest.channel_versions ?? {}, known, memo),
      readWrites(state, this.serde, thread, ns, id),
    ]);
    if (known) { for (const [s, value] of read) known.set(s, value); }
    const checkpoint = { ...rest, channel_values: values } as Checkpoint;
    if (checkpoint.v < 4 && record.p !== null) {
      await this.#migratePendingSends(state, checkpoint, thread, ns, record.p);
    }
    const tuple: CheckpointTuple = {
      config: { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: id } },
      checkpoint,
      metadata,
      pendingWrites,
    };
    if (record.p !== null) {
      tuple.parentConfig = {
        configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: record.p },
      };
    }
    return tuple;
  }

  /** Checkpoints older than format 4 kept pending sends in the parent's writes. */
  async #migratePendingSends(
    state: StateManager,
    checkpoint: Checkpoint,
    thread: string,
    ns: string,
    parent: string,
  ): Promise<void> {
    const writes = await readWrites(state, this.serde, thread, ns, parent);
    checkpoint.channel_values[TASKS] = writes.filter(([, ch]) => ch === TASKS).map(([, , v]) => v);
    const versions = Object.values(checkpoint.channel_versions);
    checkpoint.channel_versions[TASKS] = versions.length > 0
      ? maxChannelVersion(...versions)
      : this.getNextVersion(undefined);
  }

  /** Adds pruning (and now and then a sweep of values) of `thread`/`ns` to a put. */
  async #retain(
    state: StateManager,
    op: AtomicOperation,
    put: {
      thread: string;
      ns: string;
      id: string;
      checkpoint: Checkpoint;
      written: Map<string, Blob>;
    },
    previous: ThreadRecord | undefined,
    next: ThreadRecord,
    now: number,
  ): Promise<Set<string>> {
    const { keepLast, maxAgeMs } = this.#retention;
    if (keepLast === undefined && maxAgeMs === undefined) return new Set();
    const { thread, ns, id, checkpoint, written } = put;
    const plan = await planPrune(state, thread, ns, [id], this.#retention, now);
    await deletePruned(state, op, thread, ns, plan.pruned);
    const pruned = { ...previous?.pruned };
    pruned[ns] = (pruned[ns] ?? 0) + plan.pruned.length;
    next.pruned = pruned;
    if (pruned[ns]! < SWEEP_EVERY) return new Set();
    pruned[ns] = 0;
    return await sweepValues(
      state,
      op,
      thread,
      ns,
      plan.kept,
      new Map([[id, checkpoint.channel_versions]]),
      written,
      (r) => this.#versionsOf(r),
    );
  }

  async #versionsOf(record: CheckpointRecord): Promise<Record<string, string | number>> {
    return (await this.#decodeRecord(record)).checkpoint.channel_versions ?? {};
  }

  #decodeRecord(record: CheckpointRecord): Promise<{
    checkpoint: Omit<Checkpoint, "channel_values">;
    metadata: CheckpointMetadata;
  }> {
    return decode(this.serde, record.c) as Promise<{
      checkpoint: Omit<Checkpoint, "channel_values">;
      metadata: CheckpointMetadata;
    }>;
  }

  /** Adds the deletes of every key of a thread to `op`. */
  async #deleteThreadKeys(
    state: StateManager,
    op: AtomicOperation,
    thread: string,
  ): Promise<void> {
    for (const kind of ["c", "b", "w"]) {
      for (const key of await listAll(state, prefix(kind, thread))) op.delete(key);
    }
    op.delete(threadKey(thread));
  }
}

/** The thread id of a config (string or number), or an error when `required`. */
function threadOf(config: RunnableConfig, required: true, action: string): string;
function threadOf(config: RunnableConfig, required: false): string | undefined;
function threadOf(config: RunnableConfig, required: boolean, action = ""): string | undefined {
  const id: unknown = config.configurable?.thread_id;
  if (typeof id === "string" && id !== "") return id;
  if (typeof id === "number") return String(id);
  if (!required && (id === undefined || id === null)) return undefined;
  throw new ValidationError(
    `Failed to ${action || "read checkpoint"}: the config has no "thread_id" in "configurable". ` +
      'Pass one, e.g. graph.invoke(input, { configurable: { thread_id: "my-thread" } })',
  );
}

function nsOf(config: RunnableConfig): string {
  const ns: unknown = config.configurable?.checkpoint_ns ?? "";
  if (typeof ns !== "string") throw new ValidationError("checkpoint_ns must be a string");
  return ns;
}

/** The value key a cached value stands for (its slot names the namespace and channel). */
function slotBlob(thread: string, s: string, value: CachedValue): string {
  const [ns, channel] = s.split("\0") as [string, string];
  return blobKey(thread, ns, channel, value.version);
}
