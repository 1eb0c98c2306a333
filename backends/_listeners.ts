// Who listens to which namespace's changes: the registry both push feeds
// (PostgreSQL LISTEN/NOTIFY, Redis client tracking) keep for watch().
import type { ChangeHint } from "../types.ts";

/** Called with a hint whenever a namespace may have changed. */
export type Listener = (hint: ChangeHint) => void;

/** Listeners by key (a namespace, or the key of its change counter). */
export class Listeners {
  readonly #sets = new Map<string, Set<Listener>>();

  /** Adds `listener` for `key`; returns the function that removes it. */
  add(key: string, listener: Listener): () => void {
    let set = this.#sets.get(key);
    if (!set) this.#sets.set(key, set = new Set());
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#sets.get(key) === set) this.#sets.delete(key);
    };
  }

  /** Whether anyone listens to `key`. */
  has(key: string): boolean {
    return this.#sets.has(key);
  }

  /** The keys listened to. */
  keys(): IterableIterator<string> {
    return this.#sets.keys();
  }

  /** How many keys are listened to. */
  get size(): number {
    return this.#sets.size;
  }

  /** Tells the listeners of `key`. */
  notify(key: string, hint: ChangeHint): void {
    for (const listener of this.#sets.get(key) ?? []) listener(hint);
  }

  /** Tells every listener that anything may have changed (after a gap in the feed). */
  notifyAll(): void {
    for (const set of this.#sets.values()) for (const listener of set) listener({});
  }

  /** Forgets every listener. */
  clear(): void {
    this.#sets.clear();
  }
}
