// The manager's read cache. It holds JSON text (a hit returns a fresh parse,
// so callers cannot mutate cached state) and drops everything when the
// backend's change token moves: a load never returns a value older than a
// write that completed, in any process, before the load began.
//
// Why that holds: a read first reads the token, then (on a miss) the entry,
// so the entry is at least as new as the state the token names. Tokens never
// repeat, so as long as later reads see the same token, nothing has changed
// and the entry is still current. A read whose entry arrives after the cache
// moved on (a newer token, or a write by this manager to that key) must not
// store it: `epoch` counts those moves and `set()` refuses a stale epoch.
import { ValidationError } from "../errors.ts";
import type { StoredEntry } from "../types.ts";

/** Read cache settings. */
export interface CacheOptions {
  /** Most entries kept. Default 10000. */
  maxEntries?: number;
  /**
   * Most bytes kept, counted as the characters of keys and JSON text (UTF-16
   * code units; equal to bytes for ASCII). Default 64 MiB.
   */
  maxBytes?: number;
  /**
   * Opt into bounded staleness: skip the change check for this many ms after
   * the last one, so a write by another process may go unseen for that long.
   * This manager's own writes are always seen. Default 0: never stale.
   */
  maxStaleMs?: number;
}

/** A bounded LRU cache of stored entries (null = known to be absent). */
export class ReadCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxStaleMs: number;
  #map = new Map<string, StoredEntry | null>();
  #bytes = 0;
  #token: string | undefined;
  #checkedAt = -Infinity;
  #epoch = 0;

  constructor(options: CacheOptions = {}) {
    this.#maxEntries = positive(options.maxEntries, "maxEntries") ?? 10_000;
    this.#maxBytes = positive(options.maxBytes, "maxBytes") ?? 64 * 1024 * 1024;
    this.#maxStaleMs = options.maxStaleMs ?? 0;
    if (!Number.isFinite(this.#maxStaleMs) || this.#maxStaleMs < 0) {
      throw new ValidationError(`cache.maxStaleMs must be >= 0, got ${String(options.maxStaleMs)}`);
    }
  }

  /** Number of cached entries. */
  get size(): number {
    return this.#map.size;
  }

  /** Bytes held (characters of keys and JSON text). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Moves whenever an entry read earlier may no longer be stored. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Whether the change token must be read before trusting the cache. */
  needsCheck(now: number): boolean {
    return this.#maxStaleMs <= 0 || now - this.#checkedAt >= this.#maxStaleMs;
  }

  /** Records the backend's current change token; clears the cache if it moved. */
  sync(token: string, now: number): void {
    if (token !== this.#token) {
      this.clear();
      this.#token = token;
    }
    this.#checkedAt = now;
  }

  /** Whether a change token is recorded (false when new or just cleared). */
  get synced(): boolean {
    return this.#token !== undefined;
  }

  /** Whether `key` is cached (expired or not), without touching the LRU order. */
  has(key: string): boolean {
    return this.#map.has(key);
  }

  /** The cached entry, null when known absent, undefined when not cached. */
  get(key: string, now: number): StoredEntry | null | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry !== null && entry.expiresAt !== null && entry.expiresAt <= now) {
      this.#drop(key, entry);
      return null;
    }
    // Refresh its place in the LRU order (cheap: skipped when it is already the newest).
    if (this.#map.size > 1) {
      this.#map.delete(key);
      this.#map.set(key, entry);
    }
    return entry;
  }

  /** Caches an entry read from the backend, unless the cache moved on since `epoch`. */
  set(key: string, entry: StoredEntry | null, epoch: number): void {
    if (epoch !== this.#epoch || this.#token === undefined) return;
    const old = this.#map.get(key);
    if (old !== undefined) this.#drop(key, old);
    const size = entry ? entry.value.length + key.length : key.length;
    if (size > this.#maxBytes) return;
    this.#map.set(key, entry);
    this.#bytes += size;
    while (this.#map.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const [oldest, value] = this.#map.entries().next().value as [string, StoredEntry | null];
      this.#drop(oldest, value);
    }
  }

  /** Forgets one key (this manager is writing it); reads in flight will not store it. */
  delete(key: string): void {
    this.#epoch++;
    const entry = this.#map.get(key);
    if (entry !== undefined) this.#drop(key, entry);
  }

  /** Forgets everything, including the token. */
  clear(): void {
    this.#epoch++;
    this.#map.clear();
    this.#bytes = 0;
    this.#token = undefined;
    this.#checkedAt = -Infinity;
  }

  #drop(key: string, entry: StoredEntry | null): void {
    this.#bytes -= entry ? entry.value.length + key.length : key.length;
    this.#map.delete(key);
  }
}

function positive(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new ValidationError(`cache.${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}
