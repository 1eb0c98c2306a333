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
import { compareKeys, pageSorted } from "../core/_keys.ts";
import { validateNamespace } from "../core/_validate.ts";
import { entryBytes, newestFirst } from "./_shared.ts";
import { CheckpointExistsError, ClosedError } from "../errors.ts";
import type {
  Backend,
  BackendCapabilities,
  CheckpointInfo,
  CheckpointRequest,
  CommitOp,
  CommitResult,
  KeyPage,
  ListOptions,
  StoredEntry,
} from "../types.ts";

interface Space {
  entries: Map<string, StoredEntry>;
  sorted: string[] | null;
  checkpoints: Map<string, { info: CheckpointInfo; entries: StoredEntry[] }>;
  changes: number;
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
      space = { entries: new Map(), sorted: null, checkpoints: new Map(), changes: 0 };
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
  get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    const space = this.#space(ns);
    const now = Date.now();
    return Promise.resolve(keys.map((key) => copy(this.#live(space, key, now))));
  }

  /** Applies checks, sets and deletes atomically. */
  commit(ns: string, op: CommitOp): Promise<CommitResult> {
    const space = this.#space(ns);
    const now = Date.now();
    for (const check of op.checks) {
      if ((this.#live(space, check.key, now)?.version ?? null) !== check.version) {
        return Promise.resolve({ ok: false });
      }
    }
    for (const key of op.deletes) {
      if (space.entries.delete(key)) space.sorted = null;
    }
    for (const set of op.sets) {
      if (!space.entries.has(set.key)) space.sorted = null;
      space.entries.set(set.key, { ...set, version: op.version });
    }
    space.changes++;
    return Promise.resolve({ ok: true, version: op.version });
  }

  /** Lists live keys in UTF-8 byte order. */
  list(ns: string, options: ListOptions): Promise<KeyPage> {
    const space = this.#space(ns);
    space.sorted ??= [...space.entries.keys()].sort(compareKeys);
    const now = Date.now();
    const isLive = (key: string) => {
      const e = space.entries.get(key);
      return e !== undefined && (e.expiresAt === null || e.expiresAt > now);
    };
    return Promise.resolve(pageSorted(space.sorted, options, isLive));
  }

  /** Copies the live keys into a named snapshot. */
  checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    const space = this.#space(ns);
    if (!request.overwrite && space.checkpoints.has(request.name)) {
      throw new CheckpointExistsError(ns, request.name);
    }
    const now = Date.now();
    const entries = [...space.entries.keys()]
      .map((key) => this.#live(space, key, now))
      .filter((e): e is StoredEntry => e !== null)
      .map((e) => ({ ...e }));
    const info: CheckpointInfo = {
      name: request.name,
      createdAt: request.createdAt,
      keyCount: entries.length,
      bytes: entries.reduce((n, e) => n + entryBytes(e), 0),
      auto: request.auto,
      metadata: structuredClone(request.metadata),
    };
    space.checkpoints.set(request.name, { info, entries });
    return Promise.resolve({ ...info });
  }

  /** Lists checkpoints, newest first. */
  listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    const infos = [...this.#space(ns).checkpoints.values()]
      .map((c) => ({ ...c.info, metadata: structuredClone(c.info.metadata) }));
    return Promise.resolve(infos.sort(newestFirst));
  }

  /** Reads a checkpoint's entries. */
  readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    const cp = this.#space(ns).checkpoints.get(name);
    return Promise.resolve(cp ? cp.entries.map((e) => ({ ...e })) : null);
  }

  /** Replaces the namespace's keys with the checkpoint's. */
  restore(ns: string, name: string): Promise<boolean> {
    const space = this.#space(ns);
    const cp = space.checkpoints.get(name);
    if (!cp) return Promise.resolve(false);
    const now = Date.now();
    space.entries = new Map(
      cp.entries
        .filter((e) => e.expiresAt === null || e.expiresAt > now)
        .map((e) => [e.key, { ...e }]),
    );
    space.sorted = null;
    space.changes++;
    return Promise.resolve(true);
  }

  /** Deletes a checkpoint. */
  deleteCheckpoint(ns: string, name: string): Promise<boolean> {
    return Promise.resolve(this.#space(ns).checkpoints.delete(name));
  }

  /** Writes a checkpoint from given entries. */
  importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    this.#space(ns).checkpoints.set(info.name, {
      info: {
        ...info,
        keyCount: entries.length,
        bytes: entries.reduce((n, e) => n + entryBytes(e), 0),
        metadata: structuredClone(info.metadata),
      },
      entries: entries.map((e) => ({ ...e })),
    });
    return Promise.resolve();
  }

  /** Namespaces that hold keys or checkpoints. */
  namespaces(): Promise<string[]> {
    if (this.#closed) throw new ClosedError();
    const names = [...this.#spaces]
      .filter(([, s]) => s.entries.size > 0 || s.checkpoints.size > 0)
      .map(([ns]) => ns);
    return Promise.resolve(names.sort(compareKeys));
  }

  /** Deletes the namespace's keys and checkpoints. */
  clear(ns: string): Promise<void> {
    const space = this.#space(ns);
    space.entries.clear();
    space.checkpoints.clear();
    space.sorted = null;
    space.changes++;
    return Promise.resolve();
  }

  /** Moves on every change; shared managers see each other's writes. */
  changeToken(ns: string): Promise<string> {
    return Promise.resolve(String(this.#space(ns).changes));
  }

  /** Drops the data. */
  close(): Promise<void> {
    this.#closed = true;
    this.#spaces.clear();
    return Promise.resolve();
  }
}

function copy(entry: StoredEntry | null): StoredEntry | null {
  return entry && { ...entry };
}
