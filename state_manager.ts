/**
 * {@linkcode StateManager}: save, load and checkpoint workflow state in one
 * namespace of any backend.
 *
 * @module
 */
import { AtomicOperation } from "./atomic.ts";
import { openBackend } from "./backends/_open.ts";
import { Engine } from "./core/_engine.ts";
import type { Watcher, WatchOptions, WatchTarget } from "./core/_watch.ts";
import * as ops from "./core/_manager_ops.ts";
import * as reads from "./core/_reads.ts";
import type { StepWriter } from "./core/_step_writer.ts";
import type {
  PhaseOptions,
  ResetStepOptions,
  StepInfo,
  StepOptions,
} from "./core/_step_records.ts";
import { KeyNotFoundError, ValidationError } from "./errors.ts";
import type {
  Backend,
  CheckpointInfo,
  Head,
  JsonValue,
  KeyPage,
  ListOptions,
  RecoveryReport,
  StoredEntry,
} from "./types.ts";
import { retryPolicy, withRetry } from "./core/_retry.ts";
import { validateKey, validateNamespace } from "./core/_validate.ts";
import { validateOptions } from "./core/_validate_options.ts";
import type {
  CheckpointDiff,
  CheckpointOptions,
  ClaimOptions,
  Entry,
  Lease,
  OpenOptions,
  ReadOptions,
  RestoreCheckpointOptions,
  SaveOptions,
  Status,
  UpdateOptions,
  UpdateResult,
  ValueDiff,
  WriteConditions,
} from "./options.ts";

// Loaded on first use: a process that only reads (a CLI `load`) starts
// without them, and every start pays for the code it loads.
const updatesModule = onUse(() => import("./core/_updates.ts"));
const checkpointsModule = onUse(() => import("./core/_checkpoints.ts"));
const stepsModule = onUse(() => import("./core/_steps.ts"));
const phaseModule = onUse(() => import("./core/_phase.ts"));
const statusModule = onUse(() => import("./core/_status.ts"));

/**
 * A module loaded on first call, then the same promise on every call: an
 * `import()` of a loaded module still costs 5 µs (Deno) to 18 µs (Node) per
 * call, a third of a save; awaiting a settled promise costs 0.2 µs.
 */
function onUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () =>
    loaded ??= load().catch((error) => {
      loaded = undefined; // a failed load is tried again next time
      throw error;
    });
}
/**
 * A step or phase, with what its body may call loaded before it starts: a
 * module loaded while it holds a lease would delay the lease's renewals.
 */
const stepModules = <T>(load: () => Promise<T>) =>
  Promise.all([load(), updatesModule(), checkpointsModule()]).then(([m]) => m);

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
  readonly #engine: Engine;
  readonly #watchers = new ops.Watchers();
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
    this.#engine = new Engine(backend, namespace, options);
  }

  /**
   * Opens a manager on a backend and namespace. Nothing is opened before
   * this is called. `backend` is a name ("json" by default, "memory",
   * "sqlite", "redis", "kv") with that backend's own options, or a backend
   * object you opened (see {@linkcode OpenOptions}). An unknown name throws
   * {@linkcode ValidationError}; a namespace too damaged to read throws
   * {@linkcode StateDamagedError} unless `recover: true`.
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
    const state = await StateManager.#unchecked(options);
    try {
      if (options.recover) await state.recover();
      // Reading nothing still loads the namespace, so damage shows up now, not mid-workflow.
      await state.#engine.call(() => state.backend.get(state.namespace, []));
    } catch (error) {
      await state.close();
      throw error;
    }
    return state;
  }

  /**
   * Repairs a namespace that may be too damaged to open (see
   * {@linkcode StateManager.recover}) and closes again: what the CLI's
   * `recover` runs.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const report = await StateManager.recover({ backend: "memory", namespace: "wf" });
   * assert.equal(report.ok, true);
   * ```
   */
  static async recover(options: OpenOptions = {}): Promise<RecoveryReport> {
    await using state = await StateManager.#unchecked(options);
    return await state.recover();
  }

  /** A manager on the backend the options name, without reading anything yet. */
  static async #unchecked(options: OpenOptions): Promise<StateManager> {
    const namespace = options.namespace ?? "default";
    validateNamespace(namespace);
    validateOptions(options);
    const given = options.backend;
    const backend = typeof given === "object" && given !== null
      ? given
      : await withRetry(retryPolicy(options.retry), () => openBackend(given ?? "json", options));
    return new StateManager(backend, typeof given !== "object", namespace, options);
  }

  /**
   * Saves a JSON value under `key`, replacing any previous value. With
   * `ifAbsent` or `ifVersion` it writes only if the key is absent, or still at
   * that version (see {@linkcode StateManager.getEntry}); otherwise it writes
   * nothing and throws {@linkcode CheckFailedError}.
   *
   * @example
   * ```ts
   * import { CheckFailedError, StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.save("completed_tasks", ["scout", "plan"]);
   * await state.save("heartbeat", Date.now(), { ttlMs: 60_000 });
   * const entry = await state.getEntry("completed_tasks");
   * await state.save("completed_tasks", ["scout", "plan", "build"], { ifVersion: entry!.version });
   * await assert.rejects(state.save("completed_tasks", [], { ifAbsent: true }), CheckFailedError);
   * ```
   */
  async save(
    key: string,
    value: unknown,
    options: SaveOptions & WriteConditions = {},
  ): Promise<void> {
    await this.#engine.op(async () =>
      (await updatesModule()).writeIf(this.#engine, [[key, value]], options)
    );
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

  /**
   * Loads several keys with their versions in one read of the backend
   * (never from the cache); a missing key is null. Same order as `keys`.
   */
  async getEntries<T = JsonValue>(keys: string[]): Promise<(Entry<T> | null)[]> {
    return await ops.getEntries<T>(this.#engine, keys, "getEntries");
  }

  /** Whether `key` exists (and has not expired). */
  async has(key: string): Promise<boolean> {
    return (await this.#read(key)) !== null;
  }

  /**
   * Deletes `key`; deleting a missing key is not an error. With `ifVersion`
   * it deletes only a key still at that version (else {@linkcode CheckFailedError}).
   */
  async delete(key: string, options: Pick<WriteConditions, "ifVersion"> = {}): Promise<void> {
    await this.#engine.op(async () => (await updatesModule()).deleteIf(this.#engine, key, options));
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
    return await ops.listKeys(this.#engine, options);
  }

  /**
   * Saves several keys in one atomic commit. With `ifAbsent` it writes only
   * if none of them exists (else {@linkcode CheckFailedError}, nothing written).
   */
  async saveMany(
    values: Record<string, unknown>,
    options: SaveOptions & Pick<WriteConditions, "ifAbsent"> = {},
  ): Promise<void> {
    if (typeof values !== "object" || values === null || Array.isArray(values)) {
      throw new ValidationError("saveMany() takes an object of key -> value");
    }
    await this.#engine.op(async () =>
      (await updatesModule()).writeIf(this.#engine, Object.entries(values), options)
    );
  }

  /** Loads several keys at once; missing keys are left out of the result. */
  async loadMany(keys: string[]): Promise<Record<string, JsonValue>> {
    return await ops.loadMany(this.#engine, keys);
  }

  /**
   * Read-modify-write that stays correct with many writers in many
   * processes: reads `key`, calls `fn` with its value (the fallback, or
   * undefined, when absent), and commits only if nobody wrote the key in
   * between; otherwise it runs `fn` again on the new value. So `fn` may run
   * several times (hundreds under heavy contention): it must be pure, with
   * no side effects, and compute the result from its argument alone. Resolves
   * to the value written; with `{ previous: true }`, to
   * {@linkcode UpdateResult} `{ previous, value, version }`.
   *
   * @example Count across processes
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.update<number>("runs", (n = 0) => n + 1);
   * assert.equal(await state.update<number>("runs", (n = 0) => n + 1), 2);
   * const r = await state.update<number>("runs", (n = 0) => n * 10, { previous: true });
   * assert.deepEqual([r.previous, r.value], [2, 20]);
   * ```
   */
  update<T = JsonValue>(
    key: string,
    fn: (current: T | undefined) => T | Promise<T>,
    options: UpdateOptions & { previous: true },
  ): Promise<UpdateResult<T>>;
  /** Read-modify-write of `key`; resolves to the value written. */
  update<T = JsonValue>(
    key: string,
    fn: (current: T | undefined) => T | Promise<T>,
    options?: UpdateOptions,
  ): Promise<T>;
  async update<T>(
    key: string,
    fn: (current: T | undefined) => T | Promise<T>,
    options: UpdateOptions = {},
  ): Promise<T | UpdateResult<T>> {
    const { previous, value, version } = await this.#engine.op(async () =>
      (await updatesModule()).updateEntry(this.#engine, key, fn, options.ttlMs)
    );
    return options.previous === true ? { previous, value, version } : value;
  }

  /**
   * Adds `by` (default 1) to the number at `key`, atomically across
   * processes; a missing key counts as 0. Resolves to the new number. A key
   * holding something else throws {@linkcode ValidationError}. The key keeps
   * its expiry unless `ttlMs` sets a new one (so do `append()` and `merge()`).
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * assert.equal(await state.increment("done"), 1);
   * assert.equal(await state.increment("done", 5), 6);
   * ```
   */
  increment(key: string, by = 1, options: SaveOptions = {}): Promise<number> {
    return this.#engine.op(async () =>
      (await updatesModule()).increment(this.#engine, key, by, options.ttlMs)
    );
  }

  /**
   * Appends `value` to the array at `key`, atomically across processes; a
   * missing key counts as `[]`. Resolves to the new array.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.append("log", "scouted");
   * assert.deepEqual(await state.append("log", "planned"), ["scouted", "planned"]);
   * ```
   */
  append(key: string, value: unknown, options: SaveOptions = {}): Promise<JsonValue[]> {
    return this.#engine.op(async () =>
      (await updatesModule()).append(this.#engine, key, value, options.ttlMs)
    );
  }

  /**
   * Merges the fields of `patch` into the object at `key` (shallow: a field
   * of `patch` replaces the stored field), atomically across processes; a
   * missing key counts as `{}`. Resolves to the merged object.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.merge("build", { status: "running", files: 3 });
   * assert.deepEqual(await state.merge("build", { status: "done" }), { status: "done", files: 3 });
   * ```
   */
  merge(
    key: string,
    patch: Record<string, unknown>,
    options: SaveOptions = {},
  ): Promise<Record<string, JsonValue>> {
    return this.#engine.op(async () =>
      (await updatesModule()).merge(this.#engine, key, patch, options.ttlMs)
    );
  }

  /**
   * Claims the lease `key` for `owner`: succeeds if nobody holds it (or its
   * `ttlMs` ran out), or `owner` already does (which renews it); throws
   * {@linkcode LeaseHeldError} if another owner holds it. The key's value is
   * the owner's name. Use it to hand tasks to parallel workers.
   *
   * @example Claim a task
   * ```ts
   * import { LeaseHeldError, StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.claim("task:7", "worker-1", { ttlMs: 60_000 });
   * await assert.rejects(state.claim("task:7", "worker-2"), LeaseHeldError);
   * assert.equal(await state.release("task:7", "worker-1"), true);
   * ```
   */
  claim(key: string, owner: string, options: ClaimOptions = {}): Promise<Lease> {
    return this.#engine.op(async () =>
      (await updatesModule()).claim(this.#engine, key, owner, options.ttlMs)
    );
  }

  /**
   * Releases `owner`'s lease `key`: true when released, false when nobody
   * held it (it expired). Throws {@linkcode LeaseHeldError} when another
   * owner holds it: only the owner releases a lease.
   */
  release(key: string, owner: string): Promise<boolean> {
    return this.#engine.op(async () => (await updatesModule()).release(this.#engine, key, owner));
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
    return new AtomicOperation((op) => this.#engine.op(() => this.#engine.commit(op)));
  }

  /**
   * Takes an atomic snapshot of the namespace and returns its name. Without
   * a name a unique, time-sortable one is generated (`auto-...`).
   */
  async checkpoint(name?: string, options: CheckpointOptions = {}): Promise<string> {
    return await this.#engine.op(async () =>
      (await checkpointsModule()).take(this.#engine.context(), name, options)
    );
  }

  /** Lists checkpoints with their metadata, newest first. */
  async listCheckpoints(): Promise<CheckpointInfo[]> {
    return await ops.listCheckpoints(this.#engine);
  }

  /**
   * Makes the namespace exactly what it was at the checkpoint: keys created
   * since are gone, except keys under `keep.prefix`, which keep their live
   * values. Step execution records (`@ms/keep/`: leases, attempts) always
   * keep theirs, so a restore while a step runs never lets a second runner
   * in. The checkpoint becomes the head. Throws
   * {@linkcode CheckpointNotFoundError} if it does not exist.
   *
   * @example Keep attempt counters through a rollback
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.checkpoint("before_build");
   * await state.saveMany({ phase: "build", "attempts:build": 1 });
   * await state.restoreCheckpoint("before_build", { keep: { prefix: "attempts:" } });
   * assert.equal(await state.has("phase"), false);
   * assert.equal(await state.load("attempts:build"), 1);
   * ```
   */
  async restoreCheckpoint(name: string, options: RestoreCheckpointOptions = {}): Promise<void> {
    await this.#engine.op(() =>
      this.#engine.uncached(async () =>
        (await checkpointsModule()).restore(this.#engine.context(), name, options)
      )
    );
  }

  /** The checkpoint this namespace last took or restored, or null. */
  async head(): Promise<Head | null> {
    return await ops.head(this.#engine);
  }

  /**
   * Where the namespace stands: key count, head, keys changed since the
   * head's checkpoint, the newest checkpoint, and whether it lies off the
   * head's line (a branch abandoned by a restore).
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.save("phase", "plan");
   * await state.checkpoint("planned");
   * await state.save("phase", "build");
   * const status = await state.status();
   * assert.equal(status.head?.name, "planned");
   * assert.deepEqual(status.changes.changed, ["phase"]);
   * ```
   */
  async status(): Promise<Status> {
    return await this.#engine.op(async () => (await statusModule()).status(this.#engine.context()));
  }

  /** Deletes a checkpoint; throws {@linkcode CheckpointNotFoundError} if it does not exist. */
  async deleteCheckpoint(name: string): Promise<void> {
    await this.#engine.op(async () =>
      (await checkpointsModule()).remove(this.#engine.context(), name)
    );
  }

  /** Deletes automatic checkpoints beyond the retention settings; returns their names. */
  async pruneCheckpoints(): Promise<string[]> {
    return await this.#engine.op(async () =>
      (await checkpointsModule()).prune(this.#engine.context())
    );
  }

  /**
   * Every live key (under `prefix`) with its value, as one object. Object
   * keys that look like array indices ("2", "10") come first in JavaScript;
   * the others are in UTF-8 byte order.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.saveMany({ "task:1": "done", phase: "build" });
   * assert.deepEqual(await state.dump({ prefix: "task:" }), { "task:1": "done" });
   * ```
   */
  async dump(options: ReadOptions = {}): Promise<Record<string, JsonValue>> {
    return await this.#engine.op(() => reads.dump(this.#engine.context(), options));
  }

  /**
   * Every key of checkpoint `name` (under `prefix`) with its value, without
   * restoring it. Throws {@linkcode CheckpointNotFoundError} if it does not exist.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.save("phase", "plan");
   * await state.checkpoint("after_plan");
   * await state.save("phase", "build");
   * assert.deepEqual(await state.readCheckpoint("after_plan"), { phase: "plan" });
   * ```
   */
  async readCheckpoint(
    name: string,
    options: ReadOptions = {},
  ): Promise<Record<string, JsonValue>> {
    return await this.#engine.op(() => reads.readCheckpoint(this.#engine.context(), name, options));
  }

  /**
   * Like {@linkcode StateManager.diffCheckpoint}, with values: added and
   * removed keys with their values, changed keys with `{ from, to }`.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await state.save("phase", "plan");
   * await state.checkpoint("cp");
   * await state.save("phase", "build");
   * const d = await state.diffCheckpointValues("cp");
   * assert.deepEqual(d.changed, { phase: { from: "plan", to: "build" } });
   * ```
   */
  async diffCheckpointValues(from: string, to?: string): Promise<ValueDiff> {
    return await this.#engine.op(() => reads.diffValues(this.#engine.context(), from, to));
  }

  /** Keys added, removed and changed from checkpoint `from` to checkpoint `to` (default: now). */
  async diffCheckpoint(from: string, to?: string): Promise<CheckpointDiff> {
    return await this.#engine.op(async () =>
      (await checkpointsModule()).diff(this.#engine.context(), from, to)
    );
  }

  /**
   * Runs a durable step once. If step `name` is recorded as done, returns
   * its recorded result without calling `fn`. Otherwise calls `fn` with a
   * {@linkcode StepWriter} and commits what it saved together with the
   * step's done record and result, in one atomic commit: after a crash the
   * whole step is there or none of it. Effects outside the store (files,
   * requests) happen at least once. A step that throws is recorded as failed
   * (message and attempt count) and rethrows; `retry` re-runs it, `lease`
   * keeps other processes from running it at the same time. Records live
   * under the reserved key prefix `@ms/` (see the README).
   *
   * @example Resume after a crash
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * let runs = 0;
   * const plan = async () =>
   *   await state.step("plan", async (step) => {
   *     runs++;
   *     await step.save("tasks", ["scout", "build"]);
   *     return 2;
   *   });
   * assert.equal(await plan(), 2);
   * assert.equal(await plan(), 2); // recorded: not run again
   * assert.equal(runs, 1);
   * ```
   */
  step<T>(
    name: string,
    fn: (step: StepWriter) => T | Promise<T>,
    options: StepOptions = {},
  ): Promise<T> {
    return this.#engine.op(async () =>
      (await stepModules(stepsModule)).runStep(this.#engine, name, fn, options)
    );
  }

  /**
   * A step that takes a checkpoint when it starts (`phase:<name>:start`) and
   * when it ends (`phase:<name>`, with `metadata`). When `fn` throws, the
   * namespace is restored to the start checkpoint, so a failed phase leaves
   * no half state; its failure and attempt count are kept.
   *
   * @example
   * ```ts
   * import { StateManager } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * await using state = await StateManager.open({ backend: "memory" });
   * await assert.rejects(state.phase("build", async (step) => {
   *   await step.step("compile", (s) => s.save("binary", "app"));
   *   throw new Error("tests failed");
   * }));
   * assert.equal(await state.has("binary"), false); // rolled back
   * assert.equal((await state.steps()).find((s) => s.name === "build")?.attempts, 1);
   * ```
   */
  phase<T>(
    name: string,
    fn: (step: StepWriter) => T | Promise<T>,
    options: PhaseOptions = {},
  ): Promise<T> {
    return this.#engine.op(async () =>
      (await stepModules(phaseModule)).runPhase(this.#engine, name, fn, options)
    );
  }

  /** Steps with a record: status, attempts, start and end times, oldest first. */
  steps(): Promise<StepInfo[]> {
    return this.#engine.op(async () => (await stepsModule()).listSteps(this.#engine));
  }

  /**
   * Forgets step `name` and its nested steps (and, with `andLater`, every
   * step started after it), so they run again; returns their names. Values
   * they saved stay.
   */
  resetStep(name: string, options: ResetStepOptions = {}): Promise<string[]> {
    return this.#engine.op(async () =>
      (await stepsModule()).resetSteps(this.#engine, name, options)
    );
  }

  /** Deletes every key and checkpoint of this namespace. */
  async clear(): Promise<void> {
    await ops.clear(this.#engine);
  }

  /** Namespaces on this backend that hold keys or checkpoints. */
  async listNamespaces(): Promise<string[]> {
    return await ops.namespaces(this.#engine);
  }

  /** Cleans up and repairs after a crash, retried like every other call; returns what it did. */
  async recover(): Promise<RecoveryReport> {
    return await ops.recover(this.#engine);
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
    return this.#watchers.start<T>(this.#engine, target, options);
  }

  /**
   * Closes watchers and the backend (unless you passed it in). Operations
   * already started finish first; calls after close() reject with
   * `ClosedError`. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#engine.close();
    await this.#watchers.close();
    if (this.#ownsBackend) await this.backend.close();
  }

  /** Closes the manager at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #read(key: string): Promise<StoredEntry | null> {
    validateKey(key);
    return this.#engine.op(() => this.#engine.read(key));
  }
}
