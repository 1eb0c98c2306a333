// What a step's function writes through: saves and deletes are buffered and
// committed in one atomic commit with the step's done record, so a crash
// leaves the whole step or none of it; reads see the buffer first.
import { encodeValue, expiryFrom, validateKey } from "./_validate.ts";
import { refuseReserved, type StepOptions } from "./_step_records.ts";
import { KeyNotFoundError, ValidationError } from "../errors.ts";
import type { JsonValue, SetOp, StoredEntry } from "../types.ts";
import type { SaveOptions } from "../options.ts";

/** What a writer needs from the step runner. */
export interface WriterHost {
  namespace: string;
  /** Reads a key from the store (not from any step's buffer). */
  read(key: string): Promise<StoredEntry | null>;
  /** Runs a nested step whose reads see `parent`'s buffer. */
  step<T>(
    name: string,
    fn: (step: StepWriter) => T | Promise<T>,
    options: StepOptions,
    parent: StepWriter,
  ): Promise<T>;
}

/**
 * The manager a step's function is given. `save`, `saveMany` and `delete`
 * are held until the function returns and then committed atomically with the
 * step's record: if the process dies first, none of them is visible. `load`
 * and `has` see this step's own writes (and its parents'), then the store.
 *
 * @example
 * ```ts
 * import { StateManager } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using state = await StateManager.open({ backend: "memory" });
 * await state.step("plan", async (step) => {
 *   await step.save("tasks", ["scout", "build"]);
 *   assert.deepEqual(await step.load("tasks"), ["scout", "build"]); // read your writes
 *   assert.equal(await state.has("tasks"), false); // nothing visible before the step ends
 * });
 * assert.deepEqual(await state.load("tasks"), ["scout", "build"]);
 * ```
 */
export class StepWriter {
  /** The step's full name (nested steps: `build/compile`). */
  readonly name: string;
  readonly #host: WriterHost;
  readonly #parent: StepWriter | undefined;
  readonly #writes = new Map<string, SetOp | null>();
  #ended = false;

  /** @internal Steps create writers; use the one `step()` passes you. */
  constructor(host: WriterHost, name: string, parent?: StepWriter) {
    this.#host = host;
    this.name = name;
    this.#parent = parent;
  }

  /** Saves a JSON value under `key` when the step ends. */
  save(key: string, value: unknown, options: SaveOptions = {}): Promise<void> {
    this.#writable(key);
    const text = encodeValue(value);
    this.#writes.set(key, { key, value: text, expiresAt: expiryFrom(options.ttlMs, Date.now()) });
    return Promise.resolve();
  }

  /** Saves several keys when the step ends. */
  saveMany(values: Record<string, unknown>, options: SaveOptions = {}): Promise<void> {
    if (typeof values !== "object" || values === null || Array.isArray(values)) {
      throw new ValidationError("saveMany() takes an object of key -> value");
    }
    const expiresAt = expiryFrom(options.ttlMs, Date.now());
    const sets = Object.entries(values).map(([key, value]) => {
      this.#writable(key);
      return { key, value: encodeValue(value, `value[${JSON.stringify(key)}]`), expiresAt };
    });
    for (const set of sets) this.#writes.set(set.key, set);
    return Promise.resolve();
  }

  /** Deletes `key` when the step ends. */
  delete(key: string): Promise<void> {
    this.#writable(key);
    this.#writes.set(key, null);
    return Promise.resolve();
  }

  /** Loads `key`: this step's write if any, else the stored value; see `StateManager.load()`. */
  load<T = JsonValue>(key: string): Promise<T>;
  /** Loads `key`, or returns `fallback` when it is missing. */
  load<T = JsonValue, D = T>(key: string, fallback: D): Promise<T | D>;
  async load(key: string, ...fallback: unknown[]): Promise<unknown> {
    const text = await this.#read(key);
    if (text !== null) return JSON.parse(text);
    if (fallback.length > 0) return fallback[0];
    throw new KeyNotFoundError(this.#host.namespace, key);
  }

  /** Whether `key` exists, counting this step's writes. */
  async has(key: string): Promise<boolean> {
    return (await this.#read(key)) !== null;
  }

  /**
   * Runs a nested step named `<this step>/<name>`. It commits on its own
   * when it ends (so it is not run again if this step is interrupted later),
   * and its reads see this step's writes.
   */
  step<T>(
    name: string,
    fn: (step: StepWriter) => T | Promise<T>,
    options: StepOptions = {},
  ): Promise<T> {
    this.#open();
    return this.#host.step(`${this.name}/${name}`, fn, options, this);
  }

  /** @internal The buffered writes, once; the writer is closed after. */
  end(): { sets: SetOp[]; deletes: string[] } {
    this.#ended = true;
    const sets: SetOp[] = [];
    const deletes: string[] = [];
    for (const [key, write] of this.#writes) {
      if (write) sets.push(write);
      else deletes.push(key);
    }
    return { sets, deletes };
  }

  /** The buffered write of `key` here or in a parent: a set, null (deleted), or undefined. */
  #buffered(key: string): SetOp | null | undefined {
    if (this.#writes.has(key)) return this.#writes.get(key);
    return this.#parent === undefined ? undefined : this.#parent.#buffered(key);
  }

  async #read(key: string): Promise<string | null> {
    this.#open();
    validateKey(key);
    const buffered = this.#buffered(key);
    if (buffered === null) return null;
    if (buffered !== undefined) {
      const { expiresAt } = buffered;
      return expiresAt !== null && expiresAt <= Date.now() ? null : buffered.value;
    }
    return (await this.#host.read(key))?.value ?? null;
  }

  #writable(key: string): void {
    this.#open();
    validateKey(key);
    refuseReserved(key);
  }

  #open(): void {
    if (this.#ended) {
      throw new ValidationError(
        `Step ${JSON.stringify(this.name)} has ended: its writer cannot be used any more`,
      );
    }
  }
}
