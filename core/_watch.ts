// StateManager.watch(): change events for a list of keys or a key prefix,
// made by any process, on any backend. Built on the backend's change token,
// polled (push feeds come later, with the speed and PostgreSQL work).
import { ValidationError } from "../errors.ts";
import { validateKey } from "./_validate.ts";
import type { Backend, JsonValue, StoredEntry } from "../types.ts";

/** One change seen by {@linkcode Watcher}. */
export interface ChangeEvent<T = JsonValue> {
  /** The key that changed. */
  key: string;
  /** Whether the key is now absent (deleted, expired, cleared or restored away). */
  deleted: boolean;
  /** The new value; undefined when `deleted`. */
  value: T | undefined;
  /** The new version; null when `deleted`. */
  version: string | null;
}

/** Options of {@linkcode StateManager.watch}. */
export interface WatchOptions {
  /**
   * How often the backend's change signal is polled, in ms. Default 25.
   */
  intervalMs?: number;
  /** First report the current value of every watched key that exists. Default false. */
  initial?: boolean;
  /** Stops the watcher when aborted. */
  signal?: AbortSignal;
}

/**
 * Change events from {@linkcode StateManager.watch}: iterate it with
 * `for await`; leaving the loop, `close()`, aborting the signal or closing
 * the manager ends it.
 *
 * Delivery guarantee: every change completed (in any process) after `ready`
 * resolved is reported with the key's latest value. Events for one key come
 * in commit order, but values written between two checks may be skipped,
 * and a change undone before the next check (written and restored) may not
 * be reported at all. Undelivered events are coalesced per key, so a slow
 * consumer holds at most one pending event per key.
 */
export interface Watcher<T = JsonValue>
  extends AsyncIterableIterator<ChangeEvent<T>>, AsyncDisposable {
  /** Resolves once changes are being tracked; changes completed after it are reported. */
  readonly ready: Promise<void>;
  /** Stops watching; a pending `next()` returns done. Safe to call twice. */
  close(): Promise<void>;
}

/** What a watcher needs from its manager. */
export interface WatchContext {
  backend: Backend;
  namespace: string;
  call<R>(fn: () => Promise<R>): Promise<R>;
  onClose(watcher: KeyWatcher<unknown>): void;
}

/** Keys to watch, or every key that starts with a prefix. */
export type WatchTarget = string[] | { prefix: string };

const PAGE = 1000;

type Waiter<T> = {
  resolve(result: IteratorResult<ChangeEvent<T>>): void;
  reject(error: unknown): void;
};

/** The watcher behind {@linkcode StateManager.watch}. */
export class KeyWatcher<T> implements Watcher<T> {
  readonly ready: Promise<void>;
  readonly #ctx: WatchContext;
  readonly #keys: string[] | null;
  readonly #prefix: string;
  readonly #intervalMs: number;
  readonly #initial: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #queue = new Map<string, ChangeEvent<T>>();
  readonly #waiters: Waiter<T>[] = [];
  readonly #known = new Map<string, string>();
  #closed = false;
  #error: { error: unknown } | null = null;
  #wake: (() => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #loop: Promise<void>;

  constructor(ctx: WatchContext, target: WatchTarget, options: WatchOptions) {
    const intervalMs = options.intervalMs ?? 25;
    if (!Number.isFinite(intervalMs) || intervalMs < 1) {
      throw new ValidationError(
        `watch() intervalMs must be a number >= 1, got ${String(options.intervalMs)}`,
      );
    }
    if (Array.isArray(target)) {
      if (target.length === 0) throw new ValidationError("watch() needs at least one key");
      target.forEach((key) => validateKey(key));
      this.#keys = [...new Set(target)];
      this.#prefix = "";
    } else if (typeof target === "object" && target !== null && typeof target.prefix === "string") {
      this.#keys = null;
      this.#prefix = target.prefix;
    } else {
      throw new ValidationError("watch() takes an array of keys or { prefix: string }");
    }
    this.#ctx = ctx;
    this.#intervalMs = intervalMs;
    this.#initial = options.initial ?? false;
    this.#signal = options.signal;
    let started!: () => void;
    let failed!: (error: unknown) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    // A failed start rejects `ready` and the first `next()`; nobody has to await `ready`.
    this.ready.catch(() => {});
    this.#loop = this.#run(started, failed);
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (this.#signal?.aborted) void this.close();
  }

  #onAbort = (): void => {
    void this.close();
  };

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next change; waits until there is one or the watcher ends. */
  next(): Promise<IteratorResult<ChangeEvent<T>>> {
    const first = this.#queue.entries().next();
    if (!first.done) {
      const [key, event] = first.value;
      this.#queue.delete(key);
      return Promise.resolve({ value: event, done: false });
    }
    if (this.#error) {
      const { error } = this.#error;
      this.#error = null;
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Called when a `for await` loop is left early: stops the watcher. */
  async return(): Promise<IteratorResult<ChangeEvent<T>>> {
    await this.close();
    return { value: undefined, done: true };
  }

  /** Stops watching. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#signal?.removeEventListener("abort", this.#onAbort);
      this.#ctx.onClose(this as KeyWatcher<unknown>);
      this.#wakeUp();
      for (const waiter of this.#waiters.splice(0)) {
        waiter.resolve({ value: undefined, done: true });
      }
    }
    await this.#loop;
  }

  /** Closes the watcher at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #run(started: () => void, failed: (error: unknown) => void): Promise<void> {
    let ready = false;
    try {
      let token = await this.#token();
      const current = await this.#readAll();
      for (const [key, entry] of current) {
        this.#known.set(key, entry.version);
        if (this.#initial) this.#push(key, entry);
      }
      ready = true;
      started();
      while (!this.#closed) {
        await this.#sleep(this.#intervalMs);
        if (this.#closed) break;
        if (token !== undefined) {
          const next = await this.#token();
          if (next === token) continue;
          token = next;
        }
        const now = await this.#readAll();
        this.#diff(now, [...this.#known.keys(), ...now.keys()]);
      }
    } catch (error) {
      if (!ready) failed(error);
      if (!this.#closed) this.#fail(error);
    } finally {
      clearTimeout(this.#timer);
    }
  }

  #token(): Promise<string | undefined> {
    const { backend, namespace } = this.#ctx;
    if (!backend.changeToken) return Promise.resolve(undefined);
    return this.#ctx.call(() => backend.changeToken!(namespace));
  }

  /** The watched keys that exist now. */
  async #readAll(): Promise<Map<string, StoredEntry>> {
    const { backend, namespace } = this.#ctx;
    const out = new Map<string, StoredEntry>();
    if (this.#keys) {
      const entries = await this.#ctx.call(() => backend.get(namespace, this.#keys!));
      for (const e of entries) if (e) out.set(e.key, e);
      return out;
    }
    let cursor: string | undefined;
    for (;;) {
      const options = { prefix: this.#prefix, limit: PAGE, ...(cursor ? { cursor } : {}) };
      const page = await this.#ctx.call(() => backend.list(namespace, options));
      if (page.keys.length > 0) {
        const entries = await this.#ctx.call(() => backend.get(namespace, page.keys));
        for (const e of entries) if (e) out.set(e.key, e);
      }
      if (page.cursor === null || this.#closed) return out;
      cursor = page.cursor;
    }
  }

  #watches(key: string): boolean {
    return this.#keys ? this.#keys.includes(key) : key.startsWith(this.#prefix);
  }

  /** Reports every key in `keys` whose version differs from the last one reported. */
  #diff(now: Map<string, StoredEntry>, keys: Iterable<string>): void {
    for (const key of new Set(keys)) {
      if (!this.#watches(key)) continue;
      const entry = now.get(key);
      const known = this.#known.get(key);
      if (entry && entry.version !== known) {
        this.#known.set(key, entry.version);
        this.#push(key, entry);
      } else if (!entry && known !== undefined) {
        this.#known.delete(key);
        this.#push(key, null);
      }
    }
  }

  #push(key: string, entry: StoredEntry | null): void {
    const event: ChangeEvent<T> = entry
      ? { key, deleted: false, value: JSON.parse(entry.value) as T, version: entry.version }
      : { key, deleted: true, value: undefined, version: null };
    const waiter = this.#waiters.shift();
    if (waiter) return waiter.resolve({ value: event, done: false });
    this.#queue.delete(key); // the newest event goes last; the older one is superseded
    this.#queue.set(key, event);
  }

  #fail(error: unknown): void {
    this.#closed = true;
    this.#ctx.onClose(this as KeyWatcher<unknown>);
    const waiters = this.#waiters.splice(0);
    if (waiters.length === 0) this.#error = { error };
    for (const waiter of waiters) waiter.reject(error);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(() => this.#wakeUp(), ms);
    });
  }

  #wakeUp(): void {
    clearTimeout(this.#timer);
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
