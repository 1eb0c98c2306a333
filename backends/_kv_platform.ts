// The runtime seam of the Deno KV backend: `Deno.openKv` on Deno, the
// `@deno/kv` npm package's `openKv` on Node. Everything else in the backend
// only sees the small structural interface below, which both satisfy.

/**
 * A Deno KV key as this backend builds it.
 *
 * @example
 * ```ts
 * import type { KvKey } from "./kv.ts";
 *
 * const key: KvKey = ["managing-state", "wf", "keys", "phase"];
 * ```
 */
export type KvKey = readonly (string | number)[];

/**
 * One entry as `get`, `getMany` and `list` return it.
 *
 * @example
 * ```ts
 * import type { KvEntry } from "./kv.ts";
 *
 * const missing: KvEntry = { key: ["k"], value: null, versionstamp: null };
 * ```
 */
export interface KvEntry {
  /** The key (for `list`; key parts may be any KV key part type). */
  readonly key: readonly unknown[];
  /** The value, or null when absent. */
  readonly value: unknown;
  /** The versionstamp, or null when absent. */
  readonly versionstamp: string | null;
}

/**
 * A range selector for `list`.
 *
 * @example
 * ```ts
 * import type { KvSelector } from "./kv.ts";
 *
 * const keysOfWf: KvSelector = { prefix: ["managing-state", "wf", "keys"] };
 * ```
 */
export type KvSelector =
  | { prefix: KvKey }
  | { prefix: KvKey; start: KvKey }
  | { prefix: KvKey; end: KvKey }
  | { start: KvKey; end: KvKey };

/**
 * An atomic operation as Deno KV and `@deno/kv` provide it.
 *
 * @example
 * ```ts
 * import type { KvAtomic, KvDatabase } from "./kv.ts";
 *
 * function claim(kv: KvDatabase): KvAtomic {
 *   return kv.atomic().check({ key: ["owner"], versionstamp: null }).set(["owner"], "me");
 * }
 * ```
 */
export interface KvAtomic {
  /** Fails the commit unless `key` is at `versionstamp` (null: absent). */
  check(...checks: { key: KvKey; versionstamp: string | null }[]): KvAtomic;
  /** Writes a value. */
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): KvAtomic;
  /** Deletes a key. */
  delete(key: KvKey): KvAtomic;
  /** Commits; `ok: false` when a check failed. */
  commit(): Promise<{ ok: boolean; versionstamp?: string }>;
}

/**
 * The part of a Deno KV database (`Deno.Kv` or `@deno/kv`'s `Kv`) the
 * backend uses: pass one you opened as `new KvBackend({ kv })`.
 *
 * @example
 * ```ts
 * import { KvBackend, type KvDatabase } from "./kv.ts";
 *
 * // Deno (with --unstable-kv); on Node: `import { openKv } from "@deno/kv"`.
 * const kv: KvDatabase = await Deno.openKv(":memory:");
 * const backend = new KvBackend({ kv });
 * await backend.close(); // leaves `kv` open: you opened it
 * kv.close();
 * ```
 */
export interface KvDatabase {
  /** Reads up to 10 keys in one consistent snapshot. */
  getMany(keys: KvKey[]): Promise<KvEntry[]>;
  /** Iterates a key range in key order. */
  list(
    selector: KvSelector,
    options?: { limit?: number; batchSize?: number },
  ): AsyncIterable<KvEntry>;
  /** Starts an atomic operation. */
  atomic(): KvAtomic;
  /** Closes the database. */
  close(): void;
}

type OpenKv = (path?: string) => Promise<unknown>;

/**
 * Opens a Deno KV database: a file path, ":memory:", or a KV Connect URL
 * (the access token comes from `DENO_KV_ACCESS_TOKEN`). Uses `Deno.openKv`
 * when present (Deno needs `--unstable-kv`), else the `@deno/kv` package.
 */
export async function openKv(path: string): Promise<KvDatabase> {
  const deno = (globalThis as { Deno?: { openKv?: OpenKv; version?: unknown } }).Deno;
  if (deno?.version !== undefined) {
    if (typeof deno.openKv !== "function") {
      throw new Error("Deno.openKv is not available: run Deno with --unstable-kv");
    }
    return await deno.openKv(path) as KvDatabase;
  }
  // A variable specifier keeps Deno's type checker and bundlers from loading it.
  const specifier = "@deno/kv";
  let mod: { openKv: OpenKv };
  try {
    mod = await import(specifier);
  } catch (error) {
    throw new Error(
      "The Deno KV backend on Node needs the @deno/kv package: npm install @deno/kv",
      {
        cause: error,
      },
    );
  }
  return await mod.openKv(path) as KvDatabase;
}
