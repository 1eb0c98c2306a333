// What the saver knows of recent threads: the thread record at the version
// it last wrote or read (a put commits against it, so it need not read it
// first), and the newest channel values as text (the bases of deltas, and
// the values a getTuple() right after a put() needs). An entry is only
// trusted while the thread record still has that version: a put checks it
// in its commit, and a read compares it with what it read, so a write by
// anyone else (another process's put, deleteThread, pruning) drops it.
import type { ThreadRecord } from "./_langgraph_keys.ts";

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

/** A thread as the saver last saw it. */
export interface ThreadState {
  /** The thread record's version. */
  tag: string;
  /** The thread record at that version. */
  record: ThreadRecord;
  /** Channel values by {@linkcode slot}. */
  values: Map<string, CachedValue>;
}

/** The cache key of a channel in a checkpoint namespace. */
export function slot(ns: string, channel: string): string {
  return `${ns}\0${channel}`;
}

/** Most threads remembered, whatever their size. */
const MAX_THREADS = 10_000;

/** A byte-bounded LRU of threads. */
export class ThreadCache {
  readonly #maxBytes: number;
  readonly #threads = new Map<string, ThreadState & { bytes: number }>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** What is known of a thread (marking it recently used). */
  get(thread: string): ThreadState | undefined {
    const entry = this.#threads.get(thread);
    if (!entry) return undefined;
    this.#threads.delete(thread);
    this.#threads.set(thread, entry);
    return entry;
  }

  /** The thread's values, if they are of thread-record version `tag`. */
  values(thread: string, tag: string): Map<string, CachedValue> | undefined {
    const entry = this.get(thread);
    return entry?.tag === tag ? entry.values : undefined;
  }

  /** Records a thread as of record version `tag`; values too large to keep are left out. */
  set(thread: string, state: ThreadState): void {
    this.drop(thread);
    let bytes = 0;
    for (const value of state.values.values()) bytes += value.text.length * 2;
    const values = bytes > this.#maxBytes ? new Map<string, CachedValue>() : state.values;
    if (values !== state.values) bytes = 0;
    this.#threads.set(thread, { ...state, values, bytes });
    this.#bytes += bytes;
    for (const [name, entry] of this.#threads) {
      if (this.#bytes <= this.#maxBytes && this.#threads.size <= MAX_THREADS) break;
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
