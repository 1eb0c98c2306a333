// The manager's read cache. It holds JSON text (a hit returns a fresh parse,
// so callers cannot mutate cached state) and drops everything when the
// backend's change token moves: a load never returns a value older than a
// write that completed, in any process, before the load began.
import type { StoredEntry } from "./types.ts";

/** Read cache settings. */
export interface CacheOptions {
  /** Most entries kept. Default 10000. */
  maxEntries?: number;
  /** Most bytes of JSON text kept. Default 64 MiB. */
  maxBytes?: number;
  /**
   * Opt into bounded staleness: skip the change check for this many ms after
   * the last one. Default 0: never stale.
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

  constructor(options: CacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#maxStaleMs = options.maxStaleMs ?? 0;
  }

  /** Number of cached entries. */
  get size(): number {
    return this.#map.size;
  }

  /** Bytes of JSON text held. */
  get bytes(): number {
    return this.#bytes;
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

  /** The cached entry, null when known absent, undefined when not cached. */
  get(key: string, now: number): StoredEntry | null | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry !== null && entry.expiresAt !== null && entry.expiresAt <= now) {
      this.delete(key);
      return null;
    }
    // Refresh its place in the LRU order.
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry;
  }

  /** Caches an entry read from the backend. */
  set(key: string, entry: StoredEntry | null): void {
    this.delete(key);
    const size = entry ? entry.value.length + key.length : key.length;
    if (size > this.#maxBytes) return;
    this.#map.set(key, entry);
    this.#bytes += size;
    while (this.#map.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#map.keys().next().value as string;
      this.delete(oldest);
    }
  }

  /** Forgets one key. */
  delete(key: string): void {
    const entry = this.#map.get(key);
    if (entry === undefined) return;
    this.#bytes -= entry ? entry.value.length + key.length : key.length;
    this.#map.delete(key);
  }

  /** Forgets everything, including the token. */
  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
    this.#token = undefined;
  }
}
