// The record of applied request ids that backends keeping their state in
// this process (memory, json) hold per namespace. See `Backend` in types.ts
// for the contract and REQUEST_WINDOW for how long ids are kept.
import { REQUEST_WINDOW } from "../types.ts";

/** Applied request ids, oldest first, with when they were applied. */
export class RequestLog {
  readonly #ids: Map<string, number>;

  /** A log holding `init` (id -> ms since the epoch), oldest first. */
  constructor(init: Iterable<[string, number]> = []) {
    this.#ids = new Map(init);
  }

  /** Whether `id` was applied (within the window). */
  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Records `id` as applied at `at`, and prunes ids past the window. */
  add(id: string, at: number): void {
    this.#ids.delete(id);
    this.#ids.set(id, at);
    this.prune(at);
  }

  /** Drops the oldest ids while more than the newest `count` are kept and they are older than `ms`. */
  prune(now: number): void {
    for (const [id, at] of this.#ids) {
      if (this.#ids.size <= REQUEST_WINDOW.count || at > now - REQUEST_WINDOW.ms) break;
      this.#ids.delete(id);
    }
  }

  /** The ids with their times, oldest first. */
  entries(): [string, number][] {
    return [...this.#ids];
  }

  /** A copy. */
  clone(): RequestLog {
    return new RequestLog(this.#ids);
  }
}
