/**
 * The Deno KV backend: every namespace in one Deno KV database, which may be
 * a local file, ":memory:", or a remote database reached over KV Connect
 * (state shared between machines; set the access token in
 * `DENO_KV_ACCESS_TOKEN`). On Deno it uses `Deno.openKv` (run Deno with
 * `--unstable-kv`); on Node the `@deno/kv` npm package (`npm install @deno/kv`).
 *
 * Deno KV's limits are handled here: values of any size are stored in
 * 64,000-byte chunks, and commits, restores and clears larger than one Deno
 * KV commit run as namespace transactions that readers see whole. The key
 * layout is documented in `references/backends.md`.
 *
 * @example
 * ```ts
 * import { StateManager } from "../mod.ts";
 * import { KvBackend } from "./kv.ts";
 *
 * const backend = new KvBackend({ path: ":memory:" });
 * await using state = await StateManager.open({ backend, namespace: "wf" });
 * await state.save("phase", "build");
 * await backend.close();
 * ```
 *
 * @module
 */
import { createPrivateFile } from "./_create.ts";
import { compareKeys } from "../core/_keys.ts";
import { byteLength, validateNamespace } from "../core/_validate.ts";
import { BackendError, ValidationError } from "../errors.ts";
import { Inflight } from "../core/_inflight.ts";
import type {
  Backend,
  BackendCapabilities,
  CheckpointInfo,
  CheckpointRequest,
  CommitOp,
  CommitResult,
  Head,
  KeyPage,
  ListOptions,
  RecoveryReport,
  RequestOptions,
  RestoreOptions,
  StoredEntry,
} from "../types.ts";
import * as checkpoints from "./_kv_checkpoints.ts";
import { commit } from "./_kv_commit.ts";
import { type KvDatabase, type KvKey, openKv } from "./_kv_platform.ts";
import { WalClock } from "./_kv_clock.ts";
import { Known } from "./_kv_known.ts";
import { getEntries, stable, versionstamps } from "./_kv_read.ts";
import { recover } from "./_kv_recover.ts";
import {
  decodeRecord,
  expired,
  keyRange,
  kvCall,
  KvLayout,
  listAll,
  recordsOf,
} from "./_kv_store.ts";
import { type Op, type TxnContext, Txns } from "./_kv_txn.ts";
import { afterRecord, applied } from "./_kv_requests.ts";
import { contention, isBusy, mapKvError as mapError } from "./_errors_kv.ts";

export type { KvAtomic, KvDatabase, KvEntry, KvKey, KvSelector } from "./_kv_platform.ts";

/**
 * Options of {@linkcode KvBackend}.
 *
 * @example
 * ```ts
 * import { KvBackend, type KvBackendOptions } from "./kv.ts";
 *
 * const options: KvBackendOptions = { path: ":memory:", prefix: "my-app" };
 * const backend = new KvBackend(options);
 * await backend.close();
 * ```
 */
export interface KvBackendOptions {
  /**
   * A database file (its folder is created with mode 0700), ":memory:", or a
   * KV Connect URL (`https://...`; the token comes from `DENO_KV_ACCESS_TOKEN`).
   * Default ".claude/state/state.kv".
   */
  path?: string;
  /** An open Deno KV database (`Deno.Kv` or `@deno/kv`'s `Kv`) instead of `path`; you close it. */
  kv?: KvDatabase;
  /** First key part of every key this backend writes. Default "managing-state". */
  prefix?: string;
  /**
   * How long a namespace transaction (a large commit, restore or clear) may
   * hold its lock before other processes take over, in ms. Default 30000.
   */
  lockLeaseMs?: number;
}

/** The manager's default retry policy on Deno KV: up to ~3 s of waiting in all. */
const KV_RETRY = { attempts: 20, baseDelayMs: 10, maxDelayMs: 250, timeoutMs: 10_000 } as const;

/** Longest key prefix, in UTF-8 bytes (keys must stay under Deno KV's 2 KiB). */
const MAX_PREFIX_BYTES = 256;

/**
 * Stores every namespace in one Deno KV database.
 *
 * @example
 * ```ts
 * import { StateManager } from "../mod.ts";
 * import { KvBackend } from "./kv.ts";
 * import assert from "node:assert/strict";
 *
 * const backend = new KvBackend({ path: ":memory:" });
 * const state = await StateManager.open({ backend, namespace: "wf" });
 * await state.saveMany({ phase: "plan", big: "x".repeat(200_000) });
 * await state.checkpoint("planned");
 * await state.save("phase", "build");
 * await state.restoreCheckpoint("planned");
 * assert.equal(await state.load("phase"), "plan");
 * await state.close();
 * await backend.close();
 * ```
 */
export class KvBackend implements Backend {
  /** Always "kv". */
  readonly name = "kv";
  /** Persistent and shared between processes unless ":memory:". */
  readonly capabilities: BackendCapabilities;
  readonly #path: string;
  readonly #given: KvDatabase | undefined;
  readonly #layout: KvLayout;
  readonly #leaseMs: number;
  #ctx: Promise<TxnContext> | null = null;
  /** Started operations finish before close() closes the database. */
  readonly #inflight = new Inflight();

  /** Checks the options; the database is opened on first use. */
  constructor(options: KvBackendOptions = {}) {
    const prefix = options.prefix ?? "managing-state";
    if (typeof prefix !== "string" || prefix === "" || byteLength(prefix) > MAX_PREFIX_BYTES) {
      throw new ValidationError(
        `Deno KV key prefix must be a non-empty string of at most ${MAX_PREFIX_BYTES} UTF-8 bytes (Deno KV keys are limited to 2 KiB)`,
      );
    }
    const lease = options.lockLeaseMs ?? 30_000;
    if (!Number.isInteger(lease) || lease < 100) {
      throw new ValidationError(
        `lockLeaseMs must be an integer of at least 100, got ${String(lease)}`,
      );
    }
    this.#path = options.path ?? ".claude/state/state.kv";
    this.#given = options.kv;
    this.#layout = new KvLayout(prefix);
    this.#leaseMs = lease;
    const persistent = options.kv !== undefined || this.#path !== ":memory:";
    // A local file has a change clock (see _kv_clock.ts): checking it costs
    // far less than a read, so the manager's never-stale cache pays off.
    this.capabilities = {
      persistent,
      multiProcess: persistent,
      freshReadsAreCheap: !this.#local(),
      // "database is locked" comes often when processes share a file, and
      // only the manager retries it (see kvCall): more, shorter tries.
      retry: KV_RETRY,
    };
  }

  /** Whether this backend opens a local database file itself. */
  #local(): boolean {
    return this.#given === undefined && this.#path !== ":memory:" &&
      !/^https?:\/\//i.test(this.#path);
  }

  async #open(): Promise<TxnContext> {
    let kv = this.#given;
    let clock: WalClock | null = null;
    if (kv === undefined) {
      const path = this.#path;
      let undo = () => {};
      try {
        if (this.#local()) undo = createPrivateFile(path);
        kv = await openKv(path);
        if (this.#local()) clock = WalClock.open(path);
      } catch (error) {
        // A failed open (e.g. no @deno/kv on Node) leaves no file behind, unless
        // another process holds the new file ("database is locked").
        if (!isBusy(error)) undo();
        throw new BackendError(
          `Cannot open Deno KV database ${JSON.stringify(path)}: ${
            (error as Error)?.message ?? error
          }`,
          { cause: error },
        );
      }
    }
    const known = new Known();
    return {
      kv,
      layout: this.#layout,
      txns: new Txns(kv, this.#layout, this.#leaseMs, known),
      known,
      recorded: 0,
      clock,
      unlockedAt: new Map(),
    };
  }

  #run<T>(what: string, fn: (ctx: TxnContext) => Promise<T>): Promise<T> {
    return this.#inflight.run(() => this.#call(what, fn));
  }

  async #call<T>(what: string, fn: (ctx: TxnContext) => Promise<T>): Promise<T> {
    const pending = this.#ctx ??= this.#open();
    let ctx: TxnContext;
    try {
      ctx = await pending;
    } catch (error) {
      if (this.#ctx === pending) this.#ctx = null; // let a later call try again
      throw error;
    }
    try {
      return await fn(ctx);
    } catch (error) {
      throw mapError(error, what);
    }
  }

  /** Reads keys; missing or expired ones are null. */
  get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("read keys", (ctx) => getEntries(ctx, ns, keys));
  }

  /** Applies a commit atomically, whatever its size. */
  commit(ns: string, op: CommitOp): Promise<CommitResult> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("write", (ctx) => commit(ctx, ns, op));
  }

  /** Lists live keys in UTF-8 byte order (Deno KV's own key order). */
  list(ns: string, options: ListOptions): Promise<KeyPage> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("list keys", async (ctx) => {
      const limit = options.limit ?? Infinity;
      const selector = keyRange(ctx.layout.live(ns), options.prefix ?? "", options.cursor);
      if (selector === null) return { keys: [], cursor: null };
      const page = await stable(ctx, ns, () =>
        kvCall("list keys", async () => {
          const keys: string[] = [];
          const now = Date.now();
          const batchSize = Math.min(500, limit + 1);
          for await (const entry of ctx.kv.list(selector, { batchSize })) {
            const key = entry.key[entry.key.length - 1] as string;
            if (expired(decodeRecord(entry, key)!.meta, now)) continue;
            keys.push(key);
            if (keys.length > limit) break;
          }
          return keys;
        }));
      if (page === null) {
        throw contention(
          `Deno KV could not list keys of namespace ${JSON.stringify(ns)}: it kept changing; retry`,
        );
      }
      const keys = page.value;
      const more = keys.length > limit;
      if (more) keys.length = limit;
      return { keys, cursor: more ? keys[keys.length - 1]! : null };
    });
  }

  /** Takes an atomic snapshot of the namespace. */
  checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("take checkpoint", (ctx) => checkpoints.checkpoint(ctx, ns, request));
  }

  /** Lists checkpoints, newest first. */
  listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("list checkpoints", (ctx) => checkpoints.listCheckpoints(ctx, ns));
  }

  /** Reads a checkpoint's entries. */
  readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("read checkpoint", (ctx) => checkpoints.readCheckpoint(ctx, ns, name));
  }

  /** Makes the namespace exactly the checkpoint; readers see it before or after, never between. */
  restore(ns: string, name: string, options: RestoreOptions): Promise<boolean> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run(
      "restore checkpoint",
      (ctx) => checkpoints.restore(ctx, ns, name, options.id, options.keep),
    );
  }

  /** The checkpoint last taken or restored. */
  head(ns: string): Promise<Head | null> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("read head", (ctx) => checkpoints.readHead(ctx, ns));
  }

  /** Sets the head as given. */
  importHead(ns: string, head: Head | null): Promise<void> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("import head", (ctx) => checkpoints.importHead(ctx, ns, head));
  }

  /** Deletes a checkpoint. */
  deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run(
      "delete checkpoint",
      (ctx) => checkpoints.deleteCheckpoint(ctx, ns, name, options.id),
    );
  }

  /** Writes a checkpoint from given entries; the live keys are not touched. */
  importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run(
      "import checkpoint",
      (ctx) => checkpoints.importCheckpoint(ctx, ns, info, entries),
    );
  }

  /** Namespaces that hold live keys or checkpoints. */
  namespaces(): Promise<string[]> {
    return this.#run("list namespaces", async (ctx) => {
      const root = ctx.layout.root;
      const out: string[] = [];
      let start: KvKey | null = null;
      for (;;) {
        const [first] = await listAll(
          ctx.kv,
          start ? { prefix: [root], start } : { prefix: [root] },
          1,
        );
        if (first === undefined) break;
        const ns = first.key[1] as string;
        if (await hasData(ctx, ns)) out.push(ns);
        // Namespaces hold no NUL, so this skips every key of `ns`.
        start = [root, `${ns}\0`];
      }
      return out.sort(compareKeys);
    });
  }

  /** Deletes every key and checkpoint of the namespace, atomically for readers. */
  clear(ns: string, options: RequestOptions): Promise<void> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("clear namespace", async (ctx) => {
      await ctx.txns.run(ns, async () => {
        if (await applied(ctx, ns, options.id)) return { result: undefined };
        const ops: Op[] = [{ t: "clear" }, { t: "req", id: options.id, at: Date.now() }];
        return { result: undefined, ops };
      });
      await afterRecord(ctx, ns);
    });
  }

  /**
   * The local file's change clock when it has one (it moves with every
   * commit, in any process), else the versionstamps of the namespace's change
   * key (every commit writes it) and head.
   */
  changeToken(ns: string): Promise<string> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("read change token", async (ctx) => {
      const tick = ctx.clock?.read() ?? null;
      if (tick !== null) return `w${tick}`;
      const [changed, head] = await versionstamps(ctx, ns);
      return `${changed ?? 0}:${head ?? 0}`;
    });
  }

  /** Finishes or aborts abandoned transactions and removes what crashed writers left. */
  recover(ns: string): Promise<RecoveryReport> {
    validateNamespace(ns); // whoever passed it: a migration source may be hostile
    return this.#run("recover", (ctx) => recover(ctx, ns));
  }

  /** Closes the database if this backend opened it. */
  async close(): Promise<void> {
    if (!await this.#inflight.close()) return;
    const pending = this.#ctx;
    this.#ctx = null;
    if (pending === null || this.#given !== undefined) return;
    try {
      const ctx = await pending;
      ctx.clock?.close();
      ctx.kv.close();
    } catch {
      // It never opened: nothing to close.
    }
  }
}

async function hasData(ctx: TxnContext, ns: string): Promise<boolean> {
  const cps = await listAll(ctx.kv, { prefix: ctx.layout.checkpoints(ns) }, 1);
  if (cps.length > 0) return true;
  return await kvCall("list namespaces", async () => {
    const now = Date.now();
    for await (const entry of ctx.kv.list({ prefix: recordsOf(ctx.layout.live(ns)) })) {
      const key = entry.key[entry.key.length - 1] as string;
      if (!expired(decodeRecord(entry, key)!.meta, now)) return true;
    }
    return false;
  });
}
