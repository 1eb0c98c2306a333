/**
 * A [Keyv](https://keyv.org) storage adapter over any backend of
 * managing-state: `new Keyv({ store: new KeyvManagingState({ backend: "sqlite" }) })`.
 *
 * Keyv's namespace is a namespace of ours (Keyv's default, "keyv", included),
 * so `clear()` is one atomic clear of that namespace and the data is visible
 * to the CLI, migration and checkpoints like any other. The key is stored
 * without Keyv's `namespace:` prefix, the value as Keyv serialised it
 * (its `{ value, expires }` envelope, untouched), and Keyv's TTL becomes the
 * key's TTL on every backend.
 *
 * @example
 * ```ts
 * import Keyv from "keyv";
 * import { KeyvManagingState } from "./keyv.ts";
 * import assert from "node:assert/strict";
 *
 * const keyv = new Keyv({ store: new KeyvManagingState({ backend: "memory" }) });
 * await keyv.set("user:1", { name: "Ada" }, 60_000);
 * assert.deepEqual(await keyv.get("user:1"), { name: "Ada" });
 * await keyv.disconnect();
 * ```
 *
 * @module
 */
import type { KeyvStoreAdapter, StoredData } from "keyv";
import { type JsonValue, type OpenOptions, type StateManager, ValidationError } from "../mod.ts";
import { type AdapterTarget, ManagerPool } from "./_managers.ts";

/** Options of {@linkcode KeyvManagingState}: where to store, as for `StateManager.open()`. */
export type KeyvManagingStateOptions = OpenOptions & {
  /** The namespace used when Keyv has none (`namespace: undefined`). Default "keyv". */
  namespace?: string;
};

/** An event listener, as Keyv registers one. */
export type Listener = (...args: unknown[]) => void;

/** The namespace name rule of managing-state, checked when Keyv sets one. */
const NAMESPACE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Keys per page when iterating. */
const PAGE = 100;

/**
 * A Keyv store (Keyv 5's `KeyvStoreAdapter`) over a managing-state backend:
 * pass `OpenOptions` (a backend name or object and its location) or a
 * `StateManager` (its backend is used; Keyv namespaces become namespaces on
 * it). Nothing opens until the first call; `disconnect()` closes what the
 * store opened. Failed reads and writes throw (Keyv turns a failed `set` or
 * `delete` into its `error` event; pass `throwOnErrors: true` to Keyv to get
 * every error thrown).
 *
 * @example A Keyv namespace is a namespace of ours
 * ```ts
 * import Keyv from "keyv";
 * import { StateManager } from "../mod.ts";
 * import { MemoryBackend } from "../backends/memory.ts";
 * import { KeyvManagingState } from "./keyv.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = new MemoryBackend();
 * const cache = new Keyv({ store: new KeyvManagingState({ backend }), namespace: "cache" });
 * await cache.set("answer", 42);
 * await using state = await StateManager.open({ backend, namespace: "cache" });
 * assert.deepEqual(await state.listKeys(), { keys: ["answer"], cursor: null });
 * ```
 */
export class KeyvManagingState implements KeyvStoreAdapter {
  /**
   * Options as Keyv reads them. Keyv 5 offers `iterator()` only for stores
   * whose `opts.dialect` is on its list of SQL and Redis adapters; this store
   * iterates every backend in key order, page by page as those do, so it
   * reports "redis" for the Redis backend and "sqlite" for the others.
   */
  opts: { dialect: string; url: string; [option: string]: unknown };
  readonly #pool: ManagerPool;
  readonly #listeners = new Map<string, Listener[]>();
  #namespace: string | undefined;

  /** A store on the backend that `target` names or holds. */
  constructor(target: KeyvManagingStateOptions | StateManager = {}) {
    this.#pool = new ManagerPool(target as AdapterTarget, "keyv");
    const backend = this.#pool.backendName;
    this.opts = {
      dialect: backend === "redis" ? "redis" : "sqlite",
      url: `managing-state:${backend}`,
    };
  }

  /** Keyv's namespace; it names the namespace of ours that keys go to. */
  get namespace(): string | undefined {
    return this.#namespace;
  }

  set namespace(namespace: string | undefined) {
    if (namespace !== undefined && !NAMESPACE.test(namespace)) {
      throw new ValidationError(
        `Keyv namespace ${
          JSON.stringify(namespace)
        } is not a managing-state namespace: use 1-128 letters, digits, ".", "_" and "-", ` +
          `starting with a letter, digit or "_"`,
      );
    }
    this.#namespace = namespace;
  }

  /** Reads a key: what Keyv stored (its serialised envelope), or undefined. */
  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    const [state, k] = await this.#resolve(key);
    return await state.load(k, undefined) as StoredData<Value> | undefined;
  }

  /** Reads keys; a missing one is undefined. */
  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    const found = await this.#loadMany(keys);
    return found.map((value) => value as StoredData<Value | undefined>);
  }

  /** Writes a key; `ttl` (ms) becomes the key's time to live. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const [state, k] = await this.#resolve(key);
    await state.save(k, envelope(value), ttlOptions(ttl));
    return true;
  }

  /** Writes keys, one atomic commit per namespace. */
  async setMany(entries: Array<{ key: string; value: unknown; ttl?: number }>): Promise<void> {
    const groups = await this.#group(entries.map((e) => e.key));
    await Promise.all(groups.map(async ({ state, items }) => {
      const op = state.atomic();
      for (const { k, index } of items) {
        const entry = entries[index]!;
        op.set(k, envelope(entry.value), ttlOptions(entry.ttl));
      }
      await op.commit();
    }));
  }

  /** Whether a key exists (and has not expired). */
  async has(key: string): Promise<boolean> {
    const [state, k] = await this.#resolve(key);
    return await state.has(k);
  }

  /** Whether each key exists. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    return (await this.#loadMany(keys)).map((value) => value !== undefined);
  }

  /** Deletes a key; true when it existed. */
  async delete(key: string): Promise<boolean> {
    const [state, k] = await this.#resolve(key);
    for (;;) {
      const entry = await state.getEntry(k);
      if (!entry) return false;
      // Delete exactly what was read, so "existed" is never a guess.
      if ((await state.atomic().check(k, entry.version).delete(k).commit()).ok) return true;
    }
  }

  /** Deletes keys, one atomic commit per namespace; true when any existed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    const groups = await this.#group(keys);
    const deleted = await Promise.all(groups.map(async ({ state, items }) => {
      const names = [...new Set(items.map((i) => i.k))];
      const existing = Object.keys(await state.loadMany(names));
      const op = state.atomic();
      for (const k of names) op.delete(k);
      await op.commit();
      return existing.length > 0;
    }));
    return deleted.some(Boolean);
  }

  /** Deletes every key of the current Keyv namespace (one namespace of ours). */
  async clear(): Promise<void> {
    const state = await this.#pool.get(this.#namespace);
    await state.clear();
  }

  /**
   * Every live key of a Keyv namespace with its stored value, in key order,
   * as `[namespace:key, value]` pairs the way Keyv expects them.
   */
  async *iterator<Value>(
    namespace?: string,
  ): AsyncGenerator<Array<string | Awaited<Value> | undefined>, void> {
    const state = await this.#pool.get(namespace);
    let cursor: string | null = null;
    do {
      const page: { keys: string[]; cursor: string | null } = await state.listKeys(
        cursor === null ? { limit: PAGE } : { limit: PAGE, cursor },
      );
      const values = await state.loadMany(page.keys);
      for (const k of page.keys) {
        // A key deleted or expired since it was listed is left out.
        if (!Object.hasOwn(values, k)) continue;
        const key = namespace === undefined ? k : `${namespace}:${k}`;
        yield [key, values[k] as Awaited<Value>];
      }
      cursor = page.cursor;
    } while (cursor !== null);
  }

  /** Closes the managers (and the backend) this store opened. */
  async disconnect(): Promise<void> {
    await this.#pool.close();
  }

  /** Adds a listener (Keyv subscribes to "error"). */
  on(event: string, listener: Listener): this {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener);
    this.#listeners.set(event, list);
    return this;
  }

  /** Removes a listener. */
  off(event: string, listener: Listener): this {
    const list = this.#listeners.get(event);
    const at = list?.indexOf(listener) ?? -1;
    if (list && at >= 0) list.splice(at, 1);
    return this;
  }

  /** Calls the listeners of `event`; true when there were any. */
  emit(event: string, ...args: unknown[]): boolean {
    const list = [...(this.#listeners.get(event) ?? [])];
    for (const listener of list) listener(...args);
    return list.length > 0;
  }

  /** The manager and our key for a key as Keyv sends it (`namespace:key`). */
  async #resolve(key: string): Promise<[StateManager, string]> {
    if (typeof key !== "string") {
      throw new ValidationError(`Keyv keys must be strings, got ${typeof key}`);
    }
    const ns = this.#namespace;
    const k = ns !== undefined && key.startsWith(`${ns}:`) ? key.slice(ns.length + 1) : key;
    return [await this.#pool.get(ns), k];
  }

  async #group(keys: string[]): Promise<
    { state: StateManager; items: { k: string; index: number }[] }[]
  > {
    const groups = new Map<StateManager, { k: string; index: number }[]>();
    for (const [index, key] of keys.entries()) {
      const [state, k] = await this.#resolve(key);
      const items = groups.get(state) ?? [];
      items.push({ k, index });
      groups.set(state, items);
    }
    return [...groups].map(([state, items]) => ({ state, items }));
  }

  async #loadMany(keys: string[]): Promise<(JsonValue | undefined)[]> {
    const out = new Array<JsonValue | undefined>(keys.length).fill(undefined);
    for (const { state, items } of await this.#group(keys)) {
      const values = await state.loadMany([...new Set(items.map((i) => i.k))]);
      for (const { k, index } of items) if (Object.hasOwn(values, k)) out[index] = values[k];
    }
    return out;
  }
}

/**
 * Keyv's envelope as a JSON value. Keyv serialises to a string by default;
 * with its serialiser turned off it passes `{ value, expires }` with
 * `expires: undefined` when there is no TTL, which JSON drops anyway.
 */
function envelope(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  if (!("expires" in record) || record.expires !== undefined) return value;
  const { expires: _, ...rest } = record;
  return rest;
}

function ttlOptions(ttl: number | undefined): { ttlMs?: number } {
  // Keyv means "no expiry" by an absent TTL or 0.
  if (ttl === undefined || ttl === 0) return {};
  return { ttlMs: ttl };
}
