// The newest channel values the saver wrote or read, per thread, as text:
// the bases it writes deltas against and the values a getTuple() right
// after a put() needs. A thread's entry is valid only while the thread
// record still has the version it was tagged with: any write by anyone else
// (another process's put, deleteThread, pruning) moves that version, and
// then the entry is dropped.

/** A channel value as text, at a version. */
export interface CachedValue {
  /** The channel version. */
  version: string;
  /** The serde's type. */
  t: string;
  /** The serde's output, as text. */
  text: string;
  /** Deltas in a row up to this value (0: stored whole). */
  depth: number;
}

interface ThreadEntry {
  tag: string;
  values: Map<string, CachedValue>;
  bytes: number;
}

/** The cache key of a channel in a checkpoint namespace. */
export function slot(ns: string, channel: string): string {
  return `${ns}\0${channel}`;
}

/** A byte-bounded LRU of threads' newest channel values. */
export class ValueCache {
  readonly #maxBytes: number;
  readonly #threads = new Map<string, ThreadEntry>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** The thread's values, if they were tagged with `tag` (else dropped). */
  get(thread: string, tag: string): Map<string, CachedValue> | undefined {
    const entry = this.#threads.get(thread);
    if (!entry) return undefined;
    this.#threads.delete(thread);
    if (entry.tag !== tag) {
      this.#bytes -= entry.bytes;
      return undefined;
    }
    this.#threads.set(thread, entry); // most recently used
    return entry.values;
  }

  /**
   * Records values of the thread as of thread-record version `tag`. Values
   * tagged `previous` (the version before this caller's own commit) are kept.
   */
  put(
    thread: string,
    tag: string,
    values: Map<string, CachedValue>,
    previous?: string,
    drop?: (value: CachedValue, slot: string) => boolean,
  ): void {
    const old = this.#threads.get(thread);
    this.#threads.delete(thread);
    if (old) this.#bytes -= old.bytes;
    const merged = old && (old.tag === tag || old.tag === previous)
      ? old.values
      : new Map<string, CachedValue>();
    for (const [key, value] of values) merged.set(key, value);
    if (drop) { for (const [key, value] of merged) if (drop(value, key)) merged.delete(key); }
    let bytes = 0;
    for (const value of merged.values()) bytes += value.text.length * 2;
    if (bytes > this.#maxBytes || merged.size === 0) return;
    this.#threads.set(thread, { tag, values: merged, bytes });
    this.#bytes += bytes;
    for (const [name, entry] of this.#threads) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#threads.delete(name);
      this.#bytes -= entry.bytes;
    }
  }

  /** Forgets a thread. */
  drop(thread: string): void {
    const entry = this.#threads.get(thread);
    if (!entry) return;
    this.#threads.delete(thread);
    this.#bytes -= entry.bytes;
  }
}
