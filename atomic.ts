/**
 * {@linkcode AtomicOperation}: a multi-key write with optimistic checks.
 *
 * @module
 */
import { encodeValue, expiryFrom, validateKey } from "./core/_validate.ts";
import { ValidationError } from "./errors.ts";
import type { CommitOp, CommitResult, SetOp } from "./types.ts";

/**
 * Collects checks, sets and deletes and commits them all or none. Get one
 * from `StateManager.atomic()`. A later `set` or `delete` of the same key
 * replaces an earlier one.
 *
 * @example
 * ```ts
 * import { StateManager } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using state = await StateManager.open({ backend: "memory" });
 * const res = await state.atomic().check("owner", null).set("owner", "me").commit();
 * assert.equal(res.ok, true);
 * const again = await state.atomic().check("owner", null).set("owner", "you").commit();
 * assert.equal(again.ok, false);
 * ```
 */
export class AtomicOperation {
  readonly #commit: (op: Omit<CommitOp, "version" | "id">) => Promise<CommitResult>;
  readonly #checks = new Map<string, string | null>();
  readonly #writes = new Map<string, SetOp | null>();
  #done = false;

  /** @internal Use `StateManager.atomic()`. */
  constructor(commit: (op: Omit<CommitOp, "version" | "id">) => Promise<CommitResult>) {
    this.#commit = commit;
  }

  /** Fails the commit unless `key` is at `version` (null: unless it is absent). */
  check(key: string, version: string | null): this {
    validateKey(key);
    if (version !== null && typeof version !== "string") {
      throw new ValidationError(`check() version must be a string or null`);
    }
    const earlier = this.#checks.get(key);
    if (earlier !== undefined && earlier !== version) {
      throw new ValidationError(`check() of ${JSON.stringify(key)} given two versions`);
    }
    this.#checks.set(key, version);
    return this;
  }

  /** Writes `key` (validated now, written on commit). */
  set(key: string, value: unknown, options: { ttlMs?: number } = {}): this {
    validateKey(key);
    const text = encodeValue(value);
    this.#writes.set(key, {
      key,
      value: text,
      expiresAt: expiryFrom(options.ttlMs, Date.now()),
    });
    return this;
  }

  /** Deletes `key` on commit. */
  delete(key: string): this {
    validateKey(key);
    this.#writes.set(key, null);
    return this;
  }

  /** Applies everything atomically; `{ ok: false }` when a check failed. */
  commit(): Promise<CommitResult> {
    if (this.#done) {
      return Promise.reject(new ValidationError("This atomic operation was already committed"));
    }
    this.#done = true;
    const sets: SetOp[] = [];
    const deletes: string[] = [];
    for (const [key, write] of this.#writes) {
      if (write) sets.push(write);
      else deletes.push(key);
    }
    const checks = [...this.#checks].map(([key, version]) => ({ key, version }));
    return this.#commit({ checks, sets, deletes });
  }
}
