/**
 * The in-memory backend: the reference implementation of the backend
 * contract, for tests and doc examples. Data lives as long as the backend
 * object; pass the same {@linkcode MemoryBackend} to several managers to
 * share it.
 *
 * @example
 * ```ts
 * import { StateManager } from "../mod.ts";
 * import { MemoryBackend } from "./memory.ts";
 *
 * const shared = new MemoryBackend();
 * await using a = await StateManager.open({ backend: shared, namespace: "wf" });
 * await using b = await StateManager.open({ backend: shared, namespace: "wf" });
 * await a.save("phase", "build");
 * console.assert((await b.load("phase")) === "build");
 * ```
 *
 * @module
 */
// Methods are async without awaiting anything, so that every throw (closed,
// invalid namespace, checkpoint exists) is a rejected promise, as on every backend.
// deno-lint-ignore-file require-await
import { compareKeys, pageSorted } from "../core/_keys.ts";
import { validateNamespace } from "../core/_validate.ts";
import { checkpointInfo, kept, newestFirst } from "./_shared.ts";
import { RequestLog } from "./_requests.ts";
import { CheckpointExistsError, ClosedError } from "../errors.ts";
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
  RequestOptions,
  RestoreOptions,
  StoredEntry,
} from "../types.ts";

interface Space {
  entries: Map<string, StoredEntry>;
  sorted: string[] | null;
  checkpoints: Map<string, { info: CheckpointInfo; entries: StoredEntry[] }>;
  changes: number;
  /** Applied request ids. */
  requests: RequestLog;
  /** The checkpoint last taken or restored. */
  head: Head | null;
}

/** A backend that keeps everything in this process's memory. */
export class MemoryBackend implements Backend {
  /** Always "memory". */
  readonly name = "memory";
  /** Not persistent, one process only. */
  readonly capabilities: BackendCapabilities = {
    persistent: false,
    multiProcess: false,
  };
  #spaces = new Map<string, Space>();
  #closed = false;

  #space(ns: string): Space {
    if (this.#closed) throw new ClosedError();
    let space = this.#spaces.get(ns);
    if (!space) {
      validateNamespace(ns); // whoever passed it: a migration source may be hostile
      space = {
        entries: new Map(),
        sorted: null,
        checkpoints: new Map(),
        changes: 0,
        requests: new RequestLog(),
        head: null,
      };
      this.#spaces.set(ns, space);
    }
    return space;
  }

  #live(space: Space, key: string, now: number): StoredEntry | null {
    const entry = space.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= now) {
      space.entries.delete(key);
      space.sorted = null;
      return null;
    }
    return entry;
  }

  /** Reads keys; missing or expired ones are null. */
  async get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    const space = this.#space(ns);
    const now = Date.now();
    return keys.map((key) => copy(this.#live(space, key, now)));
  }

  /** Applies checks, sets and deletes atomically. */
  async commit(ns: string, op: CommitOp): Promise<CommitResult> {
    const space = this.#space(ns);
    if (space.requests.has(op.id)) return { ok: true, version: op.version };
    const now = Date.now();
    for (const check of op.checks) {
      if ((this.#live(space, check.key, now)?.version ?? null) !== check.version) {
        return { ok: false };
      }
    }
    for (const key of op.deletes) {
      if (space.entries.delete(key)) space.sorted = null;
    }
    for (const set of op.sets) {
      if (!space.entries.has(set.key)) space.sorted = null;
      space.entries.set(set.key, { ...set, version: op.version });
    }
    space.requests.add(op.id, now);
    space.changes++;
    return { ok: true, version: op.version };
  }

  /** Lists live keys in UTF-8 byte order. */
  async list(ns: string, options: ListOptions): Promise<KeyPage> {
    const space = this.#space(ns);
    space.sorted ??= [...space.entries.keys()].sort(compareKeys);
    const now = Date.now();
    const isLive = (key: string) => {
      const e = space.entries.get(key);
      return e !== undefined && (e.expiresAt === null || e.expiresAt > now);
    };
    return pageSorted(space.sorted, options, isLive);
  }

  /** Copies the live keys into a named snapshot. */
  async checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    const space = this.#space(ns);
    const existing = space.checkpoints.get(request.name);
    if (space.requests.has(request.id)) {
      return existing ? copyInfo(existing.info) : checkpointInfo(request, []);
    }
    if (!request.overwrite && existing) throw new CheckpointExistsError(ns, request.name);
    const now = Date.now();
    const entries = [...space.entries.keys()]
      .map((key) => this.#live(space, key, now))
      .filter((e): e is StoredEntry => e !== null)
      .map((e) => ({ ...e }))
      .sort(byKey);
    const info = checkpointInfo({ ...request, parent: space.head?.name ?? null }, entries);
    space.checkpoints.set(request.name, { info, entries });
    space.head = { name: request.name, via: "checkpoint", at: request.createdAt };
    space.requests.add(request.id, now);
    return copyInfo(info);
  }

  /** Lists checkpoints, newest first. */
  async listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    const infos = [...this.#space(ns).checkpoints.values()].map((c) => copyInfo(c.info));
    return infos.sort(newestFirst);
  }

  /** Reads a checkpoint's entries. */
  async readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    const cp = this.#space(ns).checkpoints.get(name);
    return cp ? cp.entries.map((e) => ({ ...e })) : null;
  }

  /** Replaces the namespace's keys with the checkpoint's, each with a fresh version (the id). */
  async restore(ns: string, name: string, options: RestoreOptions): Promise<boolean> {
    const space = this.#space(ns);
    if (space.requests.has(options.id)) return true;
    const cp = space.checkpoints.get(name);
    if (!cp) return false;
    const now = Date.now();
    const entries = new Map<string, StoredEntry>();
    for (const e of cp.entries) {
      const live = e.expiresAt === null || e.expiresAt > now;
      if (live && !kept(e.key, options.keep)) entries.set(e.key, { ...e, version: options.id });
    }
    for (const [key, e] of space.entries) if (kept(key, options.keep)) entries.set(key, e);
    space.entries = entries;
    space.head = { name, via: "restore", at: now };
    space.sorted = null;
    space.requests.add(options.id, now);
    space.changes++;
    return true;
  }

  /** Deletes a checkpoint. */
  async deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean> {
    const space = this.#space(ns);
    if (space.requests.has(options.id)) return true;
    const found = space.checkpoints.delete(name);
    if (found) space.requests.add(options.id, Date.now());
    return found;
  }

  /** Writes a checkpoint from given entries. */
  async importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    this.#space(ns).checkpoints.set(info.name, {
      info: checkpointInfo(info, entries),
      entries: entries.map((e) => ({ ...e })).sort(byKey),
    });
    return;
  }

  /** Namespaces that hold keys or checkpoints. */
  async namespaces(): Promise<string[]> {
    if (this.#closed) throw new ClosedError();
    const names = [...this.#spaces]
      .filter(([, s]) => s.entries.size > 0 || s.checkpoints.size > 0)
      .map(([ns]) => ns);
    return names.sort(compareKeys);
  }

  /** Deletes the namespace's keys and checkpoints. */
  async clear(ns: string, options: RequestOptions): Promise<void> {
    const space = this.#space(ns);
    if (space.requests.has(options.id)) return;
    space.requests.add(options.id, Date.now());
    space.head = null;
    space.entries.clear();
    space.checkpoints.clear();
    space.sorted = null;
    space.changes++;
    return;
  }

  /** The checkpoint last taken or restored. */
  async head(ns: string): Promise<Head | null> {
    const head = this.#space(ns).head;
    return head && { ...head };
  }

  /** Sets the head as given. */
  async importHead(ns: string, head: Head | null): Promise<void> {
    this.#space(ns).head = head && { ...head };
  }

  /** Moves on every change; shared managers see each other's writes. */
  async changeToken(ns: string): Promise<string> {
    return String(this.#space(ns).changes);
  }

  /** Drops the data. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#spaces.clear();
    return;
  }
}

function byKey(a: StoredEntry, b: StoredEntry): number {
  return compareKeys(a.key, b.key);
}

function copyInfo(info: CheckpointInfo): CheckpointInfo {
  return { ...info, metadata: structuredClone(info.metadata) };
}

function copy(entry: StoredEntry | null): StoredEntry | null {
  return entry && { ...entry };
}
