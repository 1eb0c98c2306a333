/**
 * The JSON backend: human-readable files under `<dir>/<namespace>/`. A
 * snapshot (`state.json`) plus an append-only journal (`journal.jsonl`, one
 * line per commit, fsynced) make a save cost independent of the namespace's
 * size; the journal is folded into a new snapshot (temp file, fsync, rename,
 * fsync of the folder) once it outgrows it. A lock file serialises writers
 * across processes; a lock left by a dead process is broken. Readers never
 * lock and never see a torn file.
 *
 * @example
 * ```ts
 * import { StateManager } from "../mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await using state = await StateManager.open({ backend: "json", dir, namespace: "wf" });
 * await state.save("phase", "build");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
import { closeSync, fstatSync, fsyncSync, openSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { compareKeys, pageSorted } from "../core/_keys.ts";
import { BackendError, CheckpointExistsError, ClosedError, StateError } from "../errors.ts";
import type {
  Backend,
  BackendCapabilities,
  CheckpointInfo,
  CheckpointRequest,
  CommitOp,
  CommitResult,
  KeyPage,
  ListOptions,
  RecoveryReport,
  StoredEntry,
} from "../types.ts";
import {
  atomicWrite,
  ensurePrivateDir,
  fsyncDir,
  isNotFound,
  listDir,
  writeAll,
} from "./_files.ts";
import {
  checkpointFile,
  FILES,
  formatCheckpoint,
  formatCommit,
  readCheckpointFile,
  readCheckpointInfo,
} from "./_json_format.ts";
import { recoverNamespace } from "./_json_recover.ts";
import { Space } from "./_json_space.ts";
import { acquireLock, type LockOptions } from "./_lock.ts";

export type { LockOptions };
import { entryBytes, newestFirst } from "./_shared.ts";

/** Options of {@linkcode JsonBackend}. */
export interface JsonOptions {
  /** The state folder; each namespace is a subfolder. */
  dir: string;
  /** Lock timing for writers. */
  lock?: LockOptions;
  /** Fold the journal into the snapshot past this many bytes (and past the snapshot's size). Default 1 MiB. */
  compactBytes?: number;
}

/** Namespaces kept in memory (each with its journal open); older ones are read again when used. */
const MAX_SPACES = 64;

/** Stores each namespace as JSON files in its own folder. */
export class JsonBackend implements Backend {
  /** Always "json". */
  readonly name = "json";
  /** Persistent and safe for many processes. */
  readonly capabilities: BackendCapabilities = {
    persistent: true,
    multiProcess: true,
    freshReadsAreCheap: true,
  };
  readonly #dir: string;
  readonly #lock: LockOptions;
  readonly #compactBytes: number;
  readonly #spaces = new Map<string, Space>();
  /** Never goes back, so change tokens never repeat, even for a namespace read again. */
  #clock = 0;
  #closed = false;

  /** Creates the backend; nothing is read or written until it is used. */
  constructor(options: JsonOptions) {
    this.#dir = options.dir;
    this.#lock = options.lock ?? {};
    this.#compactBytes = options.compactBytes ?? 1024 * 1024;
  }

  #space(ns: string): Space {
    if (this.#closed) throw new ClosedError();
    let space = this.#spaces.get(ns);
    if (space) {
      if (this.#spaces.size > 1) {
        this.#spaces.delete(ns); // most recently used last
        this.#spaces.set(ns, space);
      }
    } else {
      // Each namespace in memory holds its journal open: keep the most recent few.
      if (this.#spaces.size >= MAX_SPACES) {
        const [oldest, old] = this.#spaces.entries().next().value as [string, Space];
        old.unpin();
        this.#spaces.delete(oldest);
      }
      space = new Space(join(this.#dir, ns), () => ++this.#clock);
      this.#spaces.set(ns, space);
    }
    return space;
  }

  /** Runs `fn` holding the namespace's lock, with the in-memory copy up to date. */
  async #locked<T>(ns: string, fn: (space: Space) => T): Promise<T> {
    try {
      const dir = this.#space(ns).dir;
      ensurePrivateDir(dir);
      const lock = await acquireLock(join(dir, FILES.lock), this.#lock);
      try {
        const space = this.#space(ns); // after the wait: it may have been evicted meanwhile
        space.sync();
        space.prepareJournal();
        return fn(space);
      } finally {
        lock.release();
      }
    } catch (error) {
      throw mapError(error, `write namespace ${JSON.stringify(ns)}`);
    }
  }

  #read(ns: string): Space {
    const space = this.#space(ns);
    try {
      space.sync();
    } catch (error) {
      throw mapError(error, `read namespace ${JSON.stringify(ns)}`);
    }
    return space;
  }

  /** Reads keys; missing or expired ones are null. */
  get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    try {
      const space = this.#read(ns);
      const now = Date.now();
      return Promise.resolve(keys.map((key) => {
        const r = space.entries.get(key);
        return r && (r.expiresAt === null || r.expiresAt > now) ? { key, ...r } : null;
      }));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Appends one journal line under the lock (checks first). */
  commit(ns: string, op: CommitOp): Promise<CommitResult> {
    return this.#locked(ns, (space) => {
      const now = Date.now();
      for (const check of op.checks) {
        const r = space.entries.get(check.key);
        const live = r && (r.expiresAt === null || r.expiresAt > now) ? r : undefined;
        if ((live?.version ?? null) !== check.version) return { ok: false };
      }
      const line = formatCommit(op.version, op.sets, op.deletes);
      const path = join(space.dir, FILES.journal);
      const fd = openSync(path, "a", 0o600);
      try {
        writeAll(fd, line);
        fsyncSync(fd); // not fdatasync: the journal grows, so its size must reach the disk too
        const st = fstatSync(fd);
        if (st.ino !== space.journal?.ino) space.pinJournal();
        space.journal = { ino: st.ino, size: st.size };
        space.offset = st.size;
        space.changes = ++this.#clock;
      } finally {
        closeSync(fd);
      }
      for (const key of op.deletes) space.entries.delete(key);
      for (const s of op.sets) {
        space.entries.set(s.key, { value: s.value, version: op.version, expiresAt: s.expiresAt });
      }
      space.sorted = null;
      if (space.offset > this.#compactBytes && space.offset > space.snapshotBytes) {
        space.compact(space.entries);
      }
      return { ok: true, version: op.version };
    });
  }

  /** Lists live keys in UTF-8 byte order. */
  list(ns: string, options: ListOptions): Promise<KeyPage> {
    try {
      const space = this.#read(ns);
      space.sorted ??= [...space.entries.keys()].sort(compareKeys);
      const now = Date.now();
      const isLive = (key: string) => {
        const r = space.entries.get(key);
        return r !== undefined && (r.expiresAt === null || r.expiresAt > now);
      };
      return Promise.resolve(pageSorted(space.sorted, options, isLive));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Writes the live keys to a checkpoint file under the lock. */
  checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    return this.#locked(ns, (space) => {
      const dir = join(space.dir, FILES.checkpoints);
      ensurePrivateDir(dir);
      const path = join(dir, checkpointFile(request.name));
      if (!request.overwrite && exists(path)) throw new CheckpointExistsError(ns, request.name);
      const now = Date.now();
      const entries: StoredEntry[] = [];
      for (const [key, r] of space.entries) {
        if (r.expiresAt === null || r.expiresAt > now) entries.push({ key, ...r });
      }
      const info: CheckpointInfo = {
        name: request.name,
        createdAt: request.createdAt,
        keyCount: entries.length,
        bytes: entries.reduce((n, e) => n + entryBytes(e), 0),
        auto: request.auto,
        metadata: request.metadata,
      };
      atomicWrite(path, formatCheckpoint(info, entries));
      return info;
    });
  }

  /** Lists checkpoints, newest first. */
  listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    try {
      const dir = join(this.#space(ns).dir, FILES.checkpoints);
      const infos = listDir(dir)
        .filter((f) => f.endsWith(".jsonl") && !f.startsWith("."))
        .map((f) => readCheckpointInfo(join(dir, f)));
      return Promise.resolve(infos.sort(newestFirst));
    } catch (error) {
      return Promise.reject(mapError(error, `list checkpoints of ${JSON.stringify(ns)}`));
    }
  }

  /** Reads a checkpoint's entries. */
  readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    try {
      const path = join(this.#space(ns).dir, FILES.checkpoints, checkpointFile(name));
      return Promise.resolve(exists(path) ? readCheckpointFile(path).entries : null);
    } catch (error) {
      return Promise.reject(mapError(error, `read checkpoint ${JSON.stringify(name)}`));
    }
  }

  /** Makes the checkpoint the new snapshot generation, atomically. */
  restore(ns: string, name: string): Promise<boolean> {
    return this.#locked(ns, (space) => {
      const path = join(space.dir, FILES.checkpoints, checkpointFile(name));
      if (!exists(path)) return false;
      const { entries } = readCheckpointFile(path);
      space.compact(new Map(entries.map((e) => [e.key, e])));
      return true;
    });
  }

  /** Deletes a checkpoint file. */
  deleteCheckpoint(ns: string, name: string): Promise<boolean> {
    return this.#locked(ns, (space) => {
      const dir = join(space.dir, FILES.checkpoints);
      try {
        unlinkSync(join(dir, checkpointFile(name)));
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
      fsyncDir(dir);
      return true;
    });
  }

  /** Writes a checkpoint file from given entries. */
  async importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    await this.#locked(ns, (space) => {
      const dir = join(space.dir, FILES.checkpoints);
      ensurePrivateDir(dir);
      const counted = {
        ...info,
        keyCount: entries.length,
        bytes: entries.reduce((n, e) => n + entryBytes(e), 0),
      };
      atomicWrite(join(dir, checkpointFile(info.name)), formatCheckpoint(counted, entries));
    });
  }

  /** Namespaces (subfolders) that hold live keys or checkpoints. */
  async namespaces(): Promise<string[]> {
    if (this.#closed) throw new ClosedError();
    const out: string[] = [];
    for (const ns of listDir(this.#dir).sort(compareKeys)) {
      if (!exists(join(this.#dir, ns, FILES.snapshot))) continue;
      const [keys, cps] = await Promise.all([
        this.list(ns, { limit: 1 }),
        this.listCheckpoints(ns),
      ]);
      if (keys.keys.length > 0 || cps.length > 0) out.push(ns);
    }
    return out;
  }

  /** Deletes every key and checkpoint of the namespace. */
  async clear(ns: string): Promise<void> {
    await this.#locked(ns, (space) => {
      const dir = join(space.dir, FILES.checkpoints);
      for (const f of listDir(dir)) unlinkSync(join(dir, f));
      space.compact(new Map());
    });
  }

  /** Removes stale locks and temp files and repairs damaged files; see `recover()`. */
  async recover(ns: string): Promise<RecoveryReport> {
    try {
      const dir = this.#space(ns).dir;
      const report = await recoverNamespace(dir, this.#lock, (entries, generation) => {
        const space = this.#space(ns);
        space.generation = generation - 1;
        space.compact(entries);
      });
      this.#space(ns).load();
      return report;
    } catch (error) {
      throw mapError(error, `recover namespace ${JSON.stringify(ns)}`);
    }
  }

  /**
   * A counter this backend moves whenever its copy of the namespace changes;
   * reading it first syncs with the files (one stat when nothing changed).
   */
  changeToken(ns: string): Promise<string> {
    try {
      return Promise.resolve(String(this.#read(ns).changes));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Forgets cached state and closes the journals it kept open. */
  close(): Promise<void> {
    this.#closed = true;
    for (const space of this.#spaces.values()) space.unpin();
    this.#spaces.clear();
    return Promise.resolve();
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    // ENOTDIR: a file where a folder would be (init's config, state.db): no namespace there.
    if (isNotFound(error) || (error as { code?: string }).code === "ENOTDIR") return false;
    throw error;
  }
}

function mapError(error: unknown, what: string): StateError {
  if (error instanceof StateError) return error;
  const code = (error as { code?: string })?.code;
  const transient = code === "EBUSY" || code === "EAGAIN" || code === "EMFILE" || code === "ENFILE";
  return new BackendError(`Could not ${what}: ${(error as Error)?.message ?? error}`, {
    cause: error,
    transient,
  });
}
