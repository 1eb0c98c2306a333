// The manager's way to the backend, shared by every public method: calls with
// retries, reads through the coherent cache, and commits that are never
// applied twice (each carries a request id the backend records; see types.ts). StateManager validates and shapes; this moves the data.
import { ReadCache } from "./_cache.ts";
import type { Context } from "./_checkpoints.ts";
import { newVersion } from "./_ids.ts";
import { refuseReserved } from "./_step_records.ts";
import { type RetryOptions, retryPolicy, withRetry } from "./_retry.ts";
import { ClosedError } from "../errors.ts";
import { Inflight } from "./_inflight.ts";
import type { OpenOptions } from "../options.ts";
import type { Backend, CommitOp, CommitResult, StoredEntry } from "../types.ts";

/** One namespace of one backend, as a manager reaches it. */
export class Engine {
  readonly backend: Backend;
  readonly namespace: string;
  readonly options: OpenOptions;
  readonly #cache: ReadCache | null;
  readonly #retry: Required<RetryOptions>;
  readonly #inflight = new Inflight();

  constructor(backend: Backend, namespace: string, options: OpenOptions) {
    this.backend = backend;
    this.namespace = namespace;
    this.options = options;
    this.#retry = retryPolicy(options.retry ?? backend.capabilities.retry);
    const cache = options.cache ?? true;
    const settings = typeof cache === "object" && cache !== null ? cache : {};
    // Where a fresh read costs what a token check costs, a never-stale cache
    // only adds work; it pays off once the caller trades freshness for speed.
    const useful = !backend.capabilities.freshReadsAreCheap || (settings.maxStaleMs ?? 0) > 0;
    this.#cache = cache !== false && backend.changeToken && useful ? new ReadCache(settings) : null;
  }

  /** Throws ClosedError once `close()` was called. */
  assertOpen(): void {
    if (this.#inflight.closed) throw new ClosedError();
  }

  /**
   * Runs one public operation of the manager: refused with ClosedError once
   * `close()` began, and waited for by `close()` when it started before.
   */
  op<T>(fn: () => Promise<T>): Promise<T> {
    return this.#inflight.run(fn);
  }

  /** Refuses new operations, waits for started ones, and drops the cache. */
  async close(): Promise<void> {
    await this.#inflight.close();
    this.#cache?.clear();
  }

  /** Runs a backend call, retrying transient faults. */
  call<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(this.#retry, fn);
  }

  /** Runs `fn` with the cache dropped before and after (restore, clear, recover). */
  async uncached<T>(fn: () => Promise<T>): Promise<T> {
    this.#cache?.clear();
    try {
      return await fn();
    } finally {
      this.#cache?.clear();
    }
  }

  /** What the checkpoint functions need. */
  context(): Context {
    return {
      backend: this.backend,
      namespace: this.namespace,
      options: this.options,
      call: (fn) => this.call(fn),
    };
  }

  /** Reads one entry through the cache (`fresh` bypasses it for read-modify-write). */
  async read(key: string, fresh = false): Promise<StoredEntry | null> {
    const cache = fresh ? null : this.#cache;
    let epoch = 0;
    if (cache) {
      const now = Date.now();
      if (cache.needsCheck(now)) {
        if (cache.synced && !cache.has(key)) return await this.#readAlongside(cache, key, now);
        // The token is read before the entry, so the entry is at least as new as it.
        const token = await this.call(() => this.backend.changeToken!(this.namespace));
        cache.sync(token, now);
      }
      const hit = cache.get(key, now);
      if (hit !== undefined) return hit;
      epoch = cache.epoch;
    }
    const [entry] = await this.call(() => this.backend.get(this.namespace, [key]));
    cache?.set(key, entry ?? null, epoch);
    return entry ?? null;
  }

  /**
   * A read that will miss: the entry and the token are read at once (one
   * round trip where the token is one). The entry is cached only when the
   * token did not move since the cache last synced, before the entry was
   * asked for: then nothing changed between, and the entry is at least as new
   * as the token. (When the token moved, `sync` clears the cache and moves
   * its epoch, so `set` refuses the entry.)
   */
  async #readAlongside(cache: ReadCache, key: string, now: number): Promise<StoredEntry | null> {
    const epoch = cache.epoch;
    const [token, [entry]] = await Promise.all([
      this.call(() => this.backend.changeToken!(this.namespace)),
      this.call(() => this.backend.get(this.namespace, [key])),
    ]);
    cache.sync(token, now);
    cache.set(key, entry ?? null, epoch);
    return entry ?? null;
  }

  /**
   * Commits with retries. Every retry carries the same request id, so a
   * commit whose reply was lost is not applied twice: the backend knows the id.
   * Only `internal` commits (step records) may write under the reserved prefix.
   */
  commit(op: Omit<CommitOp, "version" | "id">, internal = false): Promise<CommitResult> {
    let done: Promise<CommitResult>;
    try {
      if (!internal) {
        for (const s of op.sets) refuseReserved(s.key);
        for (const key of op.deletes) refuseReserved(key);
      }
      const id = newVersion();
      const full: CommitOp = { ...op, id, version: id };
      done = this.call(() => this.backend.commit(this.namespace, full));
    } catch (error) {
      return Promise.reject(error);
    }
    const cache = this.#cache;
    if (!cache) return done;
    // Whatever happened, this manager's next read of these keys goes to the backend.
    return done.finally(() => {
      for (const s of op.sets) cache.delete(s.key);
      for (const key of op.deletes) cache.delete(key);
    });
  }
}
