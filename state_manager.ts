/**
 * {@linkcode StateManager}: save, load and checkpoint workflow state in one
 * namespace of any backend.
 *
 * @module
 */
import { AtomicOperation } from "./atomic.ts";
import { openBackend } from "./backends/_open.ts";
import { ReadCache } from "./_cache.ts";
import { KeyWatcher, type Watcher, type WatchOptions, type WatchTarget } from "./_watch.ts";
import * as checkpoints from "./_checkpoints.ts";
import { newVersion } from "./_ids.ts";
import { isTransient, type RetryOptions, retryPolicy, withRetry } from "./_retry.ts";
import { ClosedError, ConflictError, KeyNotFoundError, ValidationError } from "./errors.ts";
import type {
  Backend,
  CheckpointInfo,
  CommitOp,
  CommitResult,
  JsonValue,
  KeyPage,
  ListOptions,
  RecoveryReport,
  StoredEntry,
} from "./types.ts";
import { encodeValue, expiryFrom, validateKey, validateNamespace } from "./_validate.ts";
import { validateListOptions, validateOptions } from "./_validate_options.ts";
import type {
  CheckpointDiff,
  CheckpointOptions,
  Entry,
  OpenOptions,
  SaveOptions,
} from "./options.ts";

export type { CheckpointDiff, CheckpointOptions, Entry, OpenOptions, SaveOptions };

/**
 * Workflow state in one namespace of a backend: save and load JSON values,
 * update them safely from many processes, take checkpoints and restore them.
 *
 * @example Save, checkpoint, restore
 * ```ts
 * import { StateManager } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using state = await StateManager.open({ backend: "memory", namespace: "workflow-123" });
 * await state.save("current_phase", "planning");
 * await state.checkpoint("after_planning");
 * await state.save("current_phase", "building");
 * await state.save("build_log", ["compiled"]);
 * await state.restoreCheckpoint("after_planning");
 * assert.equal(await state.load("current_phase"), "planning");
 * assert.equal(await state.has("build_log"), false);
 * ```
 */
export class StateManager implements AsyncDisposable {
  /** The namespace this manager works in. */
  readonly namespace: string;
  /** The backend it stores to. */
  readonly backend: Backend;
  readonly #ownsBackend: boolean;
  readonly #cache: ReadCache | null;
  readonly #retry: Required<RetryOptions>;
  readonly #options: OpenOptions;
  readonly #watchers = new Set<KeyWatcher<unknown>>();
  #closed = false;

  private constructor(
    backend: Backend,
    ownsBackend: boolean,
    namespace: string,
    options: OpenOptions,
  ) {
    this.backend = backend;
    this.namespace = namespace;
    this.#ownsBackend = ownsBackend;
    this.#options = options;
    this.#retry = retryPolicy(options.retry);
    const cache = options.cache ?? true;
    const settings = typeof cache === "object" && cache !== null ? cache : {};
    // Where a fresh read costs what a token check costs, a never-stale cache
    // only adds work; it pays off once the caller trades freshness for speed.
    const useful = !backend.capabilities.freshReadsAreCheap || (settings.maxStaleMs ?? 0) > 0;
    this.#cache = cache !== false && backend.changeToken && useful ? new ReadCache(settings) : null;
  }

  /**
   * Opens a manager on a backend and namespace. Nothing is opened before
   * this is called.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   *
   * const state = await StateManager.open({ backend: "memory", namespace: "workflow-123" });
   * await state.close();
   * ```
   */
  static async open(options: OpenOptions = {}): Promise<StateManager> {
    const namespace = options.namespace ?? "default";
    validateNamespace(namespace);
    validateOptions(options);
    const given = options.backend;
    const policy = retryPolicy(options.retry);
    const backend = typeof given === "object" && given !== null
      ? given
      : await withRetry(policy, () => openBackend(given ?? "json", options));
    const owns = typeof given !== "object";
    try {
      if (options.recover) await withRetry(policy, async () => await backend.recover?.(namespace));
      // Reading nothing still loads the namespace, so damage shows up now, not mid-workflow.
      await withRetry(policy, () => backend.get(namespace, []));
    } catch (error) {
      if (owns) await backend.close();
      throw error;
    }
    return new StateManager(backend, owns, namespace, options);
  }

  /**
   * Saves a JSON value under `key`, replacing any previous value.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.save("completed_tasks", ["scout", "plan"]);
   * await state.save("lease", "worker-1", { ttlMs: 60_000 });
   * ```
   */
  async save(key: string, value: unknown, options: SaveOptions = {}): Promise<void> {
    validateKey(key);
    const text = encodeValue(value);
    const expiresAt = expiryFrom(options.ttlMs, Date.now());
    await this.#commit({
      checks: [],
      sets: [{ key, value: text, expiresAt }],
      deletes: [],
    });
  }

  /**
   * Loads the value of `key`. Without a fallback a missing key throws
   * {@linkcode KeyNotFoundError}; with one, the fallback is returned (even a
   * falsy one such as `0` or `""`).
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * assert.equal(await state.load("retries", 0), 0);
   * ```
   */
  load<T = JsonValue>(key: string): Promise<T>;
  /** Loads the value of `key`, or returns `fallback` when it is missing. */
  load<T = JsonValue, D = T>(key: string, fallback: D): Promise<T | D>;
  async load(key: string, ...fallback: unknown[]): Promise<unknown> {
    const entry = await this.#read(key);
    if (entry) return JSON.parse(entry.value);
    if (fallback.length > 0) return fallback[0];
    throw new KeyNotFoundError(this.namespace, key);
  }

  /** Loads a key with its version (null when absent), for `atomic().check()`. */
  async getEntry<T = JsonValue>(key: string): Promise<Entry<T> | null> {
    const entry = await this.#read(key);
    return entry && { ...entry, value: JSON.parse(entry.value) as T };
  }

  /** Whether `key` exists (and has not expired). */
  async has(key: string): Promise<boolean> {
    return (await this.#read(key)) !== null;
  }

  /** Deletes `key`; deleting a missing key is not an error. */
  async delete(key: string): Promise<void> {
    validateKey(key);
    await this.#commit({ checks: [], sets: [], deletes: [key] });
  }

  /**
   * Lists keys in ascending UTF-8 byte order, optionally by prefix and in
   * pages: pass the returned `cursor` to get the next page.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.saveMany({ "task:1": "done", "task:2": "todo", phase: "build" });
   * const page = await state.listKeys({ prefix: "task:", limit: 1 });
   * assert.deepEqual(page.keys, ["task:1"]);
   * const next = await state.listKeys({ prefix: "task:", cursor: page.cursor! });
   * assert.deepEqual(next.keys, ["task:2"]);
   * ```
   */
  async listKeys(options: ListOptions = {}): Promise<KeyPage> {
    validateListOptions(options);
    return await this.#call(() => this.backend.list(this.namespace, options));
  }

  /** Saves several keys in one atomic commit. */
  async saveMany(values: Record<string, unknown>, options: SaveOptions = {}): Promise<void> {
    if (typeof values !== "object" || values === null || Array.isArray(values)) {
      throw new ValidationError("saveMany() takes an object of key -> value");
    }
    const expiresAt = expiryFrom(options.ttlMs, Date.now());
    const sets = Object.entries(values).map(([key, value]) => {
      validateKey(key);
      return { key, value: encodeValue(value, `value[${JSON.stringify(key)}]`), expiresAt };
    });
    await this.#commit({ checks: [], sets, deletes: [] });
  }

  /** Loads several keys at once; missing keys are left out of the result. */
  async loadMany(keys: string[]): Promise<Record<string, JsonValue>> {
    if (!Array.isArray(keys)) throw new ValidationError("loadMany() takes an array of keys");
    keys.forEach((key) => validateKey(key));
    this.#assertOpen();
    const entries = await this.#call(() => this.backend.get(this.namespace, keys));
    const out: Record<string, JsonValue> = {};
    entries.forEach((e) => {
      if (e) out[e.key] = JSON.parse(e.value);
    });
    return out;
  }

  /**
   * Read-modify-write that stays correct with many writers in many
   * processes: reads `key`, calls `fn` with its value (the fallback, or
   * undefined, when absent), and commits only if nobody wrote the key in
   * between; otherwise it runs `fn` again on the new value.
   *
   * @example Count across processes
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.update<number>("runs", (n = 0) => n + 1);
   * assert.equal(await state.update<number>("runs", (n = 0) => n + 1), 2);
   * ```
   */
  async update<T = JsonValue>(
    key: string,
    fn: (current: T | undefined) => T | Promise<T>,
    options: SaveOptions = {},
  ): Promise<T> {
    validateKey(key);
    if (typeof fn !== "function") throw new ValidationError("update() takes a function");
    const max = this.#options.maxUpdateAttempts ?? 1000;
    for (let attempt = 1; attempt <= max; attempt++) {
      const current = await this.#read(key, true);
      const next = await fn(current ? JSON.parse(current.value) : undefined);
      const text = encodeValue(next);
      const result = await this.#commit({
        checks: [{ key, version: current?.version ?? null }],
        sets: [{ key, value: text, expiresAt: expiryFrom(options.ttlMs, Date.now()) }],
        deletes: [],
      });
      if (result.ok) return JSON.parse(text);
      // Another writer won: back off a little so contenders spread out.
      if (attempt > 2) await sleep(Math.random() * Math.min(50, attempt));
    }
    throw new ConflictError(
      `update(${JSON.stringify(key)}) in namespace ${
        JSON.stringify(this.namespace)
      } lost ${max} races to other writers: retry later or raise maxUpdateAttempts`,
    );
  }

  /**
   * Starts an atomic multi-key write with optimistic checks, modelled on
   * Deno KV's `atomic()`.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * const lease = await state.getEntry("lease");
   * const result = await state.atomic()
   *   .check("lease", lease?.version ?? null)
   *   .set("lease", "worker-1")
   *   .set("phase", "build")
   *   .commit();
   * assert.equal(result.ok, true);
   * ```
   */
  atomic(): AtomicOperation {
    return new AtomicOperation((op) => this.#commit(op));
  }

  /**
   * Takes an atomic snapshot of the namespace and returns its name. Without
   * a name a unique, time-sortable one is generated (`auto-...`).
   */
  async checkpoint(name?: string, options: CheckpointOptions = {}): Promise<string> {
    this.#assertOpen();
    const created = await checkpoints.take(this.#context(), name, options);
    return created;
  }

  /** Lists checkpoints with their metadata, newest first. */
  async listCheckpoints(): Promise<CheckpointInfo[]> {
    this.#assertOpen();
    return await this.#call(() => this.backend.listCheckpoints(this.namespace));
  }

  /**
   * Makes the namespace exactly what it was at the checkpoint: keys created
   * since are gone. Throws {@linkcode CheckpointNotFoundError} if it does not exist.
   */
  async restoreCheckpoint(name: string): Promise<void> {
    this.#assertOpen();
    this.#cache?.clear();
    try {
      await checkpoints.restore(this.#context(), name);
    } finally {
      this.#cache?.clear();
    }
  }

  /** Deletes a checkpoint; throws {@linkcode CheckpointNotFoundError} if it does not exist. */
  async deleteCheckpoint(name: string): Promise<void> {
    this.#assertOpen();
    await checkpoints.remove(this.#context(), name);
  }

  /** Deletes automatic checkpoints beyond the retention settings; returns their names. */
  async pruneCheckpoints(): Promise<string[]> {
    this.#assertOpen();
    return await checkpoints.prune(this.#context());
  }

  /** Keys added, removed and changed from checkpoint `from` to checkpoint `to` (default: now). */
  async diffCheckpoint(from: string, to?: string): Promise<CheckpointDiff> {
    this.#assertOpen();
    return await checkpoints.diff(this.#context(), from, to);
  }

  /** Deletes every key and checkpoint of this namespace. */
  async clear(): Promise<void> {
    this.#assertOpen();
    this.#cache?.clear();
    await this.#call(() => this.backend.clear(this.namespace));
    this.#cache?.clear();
  }

  /** Namespaces on this backend that hold keys or checkpoints. */
  async listNamespaces(): Promise<string[]> {
    this.#assertOpen();
    return await this.#call(() => this.backend.namespaces());
  }

  /** Cleans up and repairs after a crash; returns what it did. */
  async recover(): Promise<RecoveryReport> {
    this.#assertOpen();
    this.#cache?.clear();
    if (!this.backend.recover) return { actions: [], quarantined: [], ok: true };
    return await this.backend.recover(this.namespace);
  }

  /**
   * Watches keys, or every key under a prefix, for changes made by any
   * process: an async iterator of {@linkcode ChangeEvent}s. Every change that
   * completes after `ready` resolves is reported with the key's latest value
   * (values written in quick succession may be skipped). Leaving the loop,
   * `close()`, an aborted `signal` or closing the manager ends it.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * const changes = state.watch(["phase"]);
   * await changes.ready;
   * await state.save("phase", "build");
   * for await (const change of changes) {
   *   assert.deepEqual([change.key, change.value], ["phase", "build"]);
   *   break; // leaving the loop stops the watcher
   * }
   * ```
   */
  watch<T = JsonValue>(target: WatchTarget, options: WatchOptions = {}): Watcher<T> {
    this.#assertOpen();
    const watcher = new KeyWatcher<T>(
      {
        backend: this.backend,
        namespace: this.namespace,
        call: (fn) => this.#call(fn),
        onClose: (w) => this.#watchers.delete(w),
      },
      target,
      options,
    );
    this.#watchers.add(watcher as KeyWatcher<unknown>);
    return watcher;
  }

  /** Closes watchers and the backend (unless you passed it in). Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#watchers].map((w) => w.close()));
    this.#cache?.clear();
    if (this.#ownsBackend) await this.backend.close();
  }

  /** Closes the manager at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError();
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(this.#retry, fn);
  }

  #context(): checkpoints.Context {
    return {
      backend: this.backend,
      namespace: this.namespace,
      options: this.#options,
      call: (fn) => this.#call(fn),
    };
  }

  /** Reads one entry through the cache (`fresh` bypasses it for read-modify-write). */
  async #read(key: string, fresh = false): Promise<StoredEntry | null> {
    validateKey(key);
    this.#assertOpen();
    const cache = fresh ? null : this.#cache;
    let epoch = 0;
    if (cache) {
      const now = Date.now();
      if (cache.needsCheck(now)) {
        // The token is read before the entry, so the entry is at least as new as it.
        const token = await this.#call(() => this.backend.changeToken!(this.namespace));
        cache.sync(token, now);
      }
      const hit = cache.get(key, now);
      if (hit !== undefined) return hit;
      epoch = cache.epoch;
    }
    const [entry] = await this.#call(() => this.backend.get(this.namespace, [key]));
    cache?.set(key, entry ?? null, epoch);
    return entry ?? null;
  }

  /**
   * Commits with retries. A commit whose reply was lost may have landed; its
   * unique version tells: if a written key carries it, the commit is done and
   * is not applied twice.
   */
  async #commit(op: Omit<CommitOp, "version">): Promise<CommitResult> {
    this.#assertOpen();
    const full: CommitOp = { ...op, version: newVersion() };
    let uncertain = false;
    try {
      return await this.#call(async () => {
        if (uncertain && full.sets.length > 0) {
          const [entry] = await this.backend.get(this.namespace, [full.sets[0]!.key]);
          if (entry?.version === full.version) return { ok: true, version: full.version };
        }
        try {
          return await this.backend.commit(this.namespace, full);
        } catch (error) {
          uncertain ||= isTransient(error);
          throw error;
        }
      });
    } finally {
      // Whatever happened, this manager's next read of these keys goes to the backend.
      const cache = this.#cache;
      if (cache) {
        for (const s of op.sets) cache.delete(s.key);
        for (const key of op.deletes) cache.delete(key);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
