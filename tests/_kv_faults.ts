// A Deno KV database that fails chosen calls with "database is locked", as a
// local file does when another process holds it, and counts the calls.
import type { KvAtomic, KvDatabase, KvEntry, KvKey, KvSelector } from "../backends/kv.ts";

/** One commit as the backend built it: the keys it sets (with their values) and deletes. */
export interface CommitCall {
  sets: { key: KvKey; value: unknown }[];
  deletes: KvKey[];
}

/** Decides whether a call fails. */
export interface FaultPlan {
  getMany?: (keys: KvKey[]) => boolean;
  commit?: (call: CommitCall) => boolean;
}

/** The error Deno KV throws when the SQLite file is busy (the call did not happen). */
export const locked = (): Error => new TypeError("database is locked");

/** Wraps `inner`; `plan` may be changed at any time. Counts every getMany and commit. */
export class FaultyKv implements KvDatabase {
  readonly inner: KvDatabase;
  plan: FaultPlan = {};
  getManyCalls = 0;
  commits: CommitCall[] = [];
  failed = 0;

  constructor(inner: KvDatabase) {
    this.inner = inner;
  }

  getMany(keys: KvKey[]): Promise<KvEntry[]> {
    this.getManyCalls++;
    if (this.plan.getMany?.(keys)) {
      this.failed++;
      return Promise.reject(locked());
    }
    return this.inner.getMany(keys);
  }

  list(
    selector: KvSelector,
    options?: { limit?: number; batchSize?: number },
  ): AsyncIterable<KvEntry> {
    return this.inner.list(selector, options);
  }

  atomic(): KvAtomic {
    const inner = this.inner.atomic();
    const call: CommitCall = { sets: [], deletes: [] };
    const atomic: KvAtomic = {
      check: (...checks) => (inner.check(...checks), atomic),
      set: (key, value, options) => {
        call.sets.push({ key, value });
        inner.set(key, value, options);
        return atomic;
      },
      delete: (key) => (call.deletes.push(key), inner.delete(key), atomic),
      commit: () => {
        this.commits.push(call);
        if (this.plan.commit?.(call)) {
          this.failed++;
          return Promise.reject(locked());
        }
        return inner.commit();
      },
    };
    return atomic;
  }

  close(): void {
    this.inner.close();
  }
}

/** The text of a value the backend wrote (it writes bytes). */
export function textOf(value: unknown): string {
  return value instanceof Uint8Array ? new TextDecoder().decode(value) : String(value);
}

/** Whether a key ends with these parts. */
export function endsWith(key: KvKey, ...tail: (string | number)[]): boolean {
  return tail.every((part, i) => key[key.length - tail.length + i] === part);
}
