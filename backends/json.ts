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
import { StateManager } from "../mod.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await using state = await StateManager.open({ backend: "json", dir, namespace: "wf" });
 * await state.save("phase", "build");
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
import { fs } from "./_fs_platform.ts";
import { joinPath as join } from "./_sys_platform.ts";
import { compareKeys, pageSorted, sortKeys } from "../core/_keys.ts";
import { validateCheckpointName, validateNamespace } from "../core/_validate.ts";
import { CheckpointExistsError, ClosedError, ValidationError } from "../errors.ts";
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
import {
  checkFolder,
  ensurePrivateDir,
  fsyncDir,
  listDir,
  openAppend,
  removeFile,
  writeAll,
} from "./_files.ts";
import {
  encodeCheckpoint,
  Entries,
  entryCost,
  FILES,
  formatCheckpoint,
  formatCommit,
  MAX_NAMESPACE_BYTES,
  readCheckpointFile,
  readCheckpointInfo,
} from "./_json_format.ts";
import {
  bytesAfter,
  checkpointInfos,
  findCheckpoint,
  namespaceFolders,
  namespacePath,
  tooBig,
  writeCheckpoint,
} from "./_json_layout.ts";
import { checkpointFile, namespaceFolder } from "./_json_names.ts";
import { Inflight } from "../core/_inflight.ts";
import { mapFileError as mapError } from "./_errors_file.ts";
import { recoverNamespace, setAsideNonFolder } from "./_json_recover.ts";
import { Space } from "./_json_space.ts";
import { acquireLock, type LockOptions } from "./_lock.ts";

export type { LockOptions };
import { checkpointInfo, kept, newestFirst } from "./_shared.ts";

const { closeSync, fsyncSync } = fs;

/** Options of {@linkcode JsonBackend}. */
export interface JsonOptions {
  /** The state folder; each namespace is a subfolder. */
  dir: string;
  /** Lock timing for writers. */
  lock?: LockOptions;
  /** Fold the journal into the snapshot past this many bytes (and past the snapshot's size). Default 1 MiB. */
  compactBytes?: number;
  /**
   * Most a namespace may hold, counted as characters of its keys, values and
   * versions plus 64 per key; a write past it is refused with a
   * ValidationError. Default and maximum 128 MiB.
   */
  maxNamespaceBytes?: number;
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
  readonly #maxBytes: number;
  readonly #spaces = new Map<string, Space>();
  #rootChecked = false;
  /** Never goes back, so change tokens never repeat, even for a namespace read again. */
  #clock = 0;
  /** Started writes finish before close() releases the journals. */
  readonly #inflight = new Inflight();

  /** Creates the backend; nothing is read or written until it is used. */
  constructor(options: JsonOptions) {
    this.#dir = options.dir;
    this.#lock = options.lock ?? {};
    this.#compactBytes = options.compactBytes ?? 1024 * 1024;
    const max = options.maxNamespaceBytes ?? MAX_NAMESPACE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1 || max > MAX_NAMESPACE_BYTES) {
      throw new ValidationError(
        `maxNamespaceBytes must be an integer from 1 to ${MAX_NAMESPACE_BYTES}, got ${max}`,
      );
    }
    this.#maxBytes = max;
  }

  /** The namespace in memory; `check`: refuse once closed (not for work already started). */
  #space(ns: string, check = true): Space {
    if (check && this.#inflight.closed) throw new ClosedError();
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
      space = new Space(this.#folder(ns), () => ++this.#clock);
      this.#spaces.set(ns, space);
    }
    return space;
  }

  /**
   * The namespace's folder, checked: the name is valid (whoever passed it),
   * the state folder and this folder are ours and not writable by others, and
   * a folder of the layout before the name encoding is moved to its new name.
   */
  #folder(ns: string): string {
    validateNamespace(ns);
    // Once it exists: checked before, a folder created later may not be ours.
    if (!this.#rootChecked) this.#rootChecked = checkFolder(this.#dir, true);
    return namespacePath(this.#dir, ns);
  }

  /** Runs an operation that awaits: refused once closed; close() waits for it. */
  #op<T>(fn: () => Promise<T>): Promise<T> {
    return this.#inflight.run(fn);
  }

  /** Runs `fn` holding the namespace's lock, with the in-memory copy up to date. */
  async #locked<T>(ns: string, fn: (space: Space) => T): Promise<T> {
    try {
      const dir = this.#space(ns, false).dir;
      ensurePrivateDir(dir);
      const lock = await acquireLock(join(dir, FILES.lock), this.#lock);
      try {
        const space = this.#space(ns, false); // after the wait: it may have been evicted meanwhile
        space.sync(true);
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
    try {
      const space = this.#space(ns);
      space.sync();
      return space;
    } catch (error) {
      throw mapError(error, `read namespace ${JSON.stringify(ns)}`);
    }
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

  /** Appends one journal line under the lock (checks first); the line records the request id. */
  commit(ns: string, op: CommitOp): Promise<CommitResult> {
    return this.#op(() => this.#commit(ns, op));
  }

  #commit(ns: string, op: CommitOp): Promise<CommitResult> {
    return this.#locked(ns, (space) => {
      if (space.entries.requests.has(op.id)) return { ok: true, version: op.version };
      const now = Date.now();
      for (const check of op.checks) {
        const r = space.entries.get(check.key);
        const live = r && (r.expiresAt === null || r.expiresAt > now) ? r : undefined;
        if ((live?.version ?? null) !== check.version) return { ok: false };
      }
      const bytes = bytesAfter(space.entries, op);
      if (bytes > this.#maxBytes && bytes > space.entries.bytes) {
        throw tooBig(ns, bytes, this.#maxBytes);
      }
      this.#append(space, formatCommit({ id: op.id, at: now }, op.version, op.sets, op.deletes));
      space.entries.requests.add(op.id, now);
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

  /** Under the lock: appends one line to the journal and fsyncs it. */
  #append(space: Space, line: string): void {
    const path = join(space.dir, FILES.journal);
    const { fd, st } = openAppend(path);
    try {
      // Under the lock nobody else appends: the size is the old one plus this line.
      const size = st.size + writeAll(fd, line);
      fsyncSync(fd); // not fdatasync: the journal grows, so its size must reach the disk too
      if (st.ino !== space.journal?.ino) space.pinJournal();
      space.journal = { ino: st.ino, size };
      space.offset = size;
      space.changes = ++this.#clock;
    } finally {
      closeSync(fd);
    }
  }

  /** Under the lock: a journal line that records a request id (and a new head) and changes no key. */
  #recordRequest(space: Space, id: string, head?: Head | null): void {
    const now = Date.now();
    this.#append(space, formatCommit({ id, at: now }, id, [], [], head));
    space.entries.requests.add(id, now);
    if (head !== undefined) space.entries.head = head;
  }

  /** Lists live keys in UTF-8 byte order. */
  list(ns: string, options: ListOptions): Promise<KeyPage> {
    try {
      const space = this.#read(ns);
      space.sorted ??= sortKeys([...space.entries.keys()]);
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
    return this.#op(() => this.#checkpoint(ns, request));
  }

  async #checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    validateCheckpointName(request.name);
    const file = await checkpointFile(request.name);
    return await this.#locked(ns, (space) => {
      const dir = join(space.dir, FILES.checkpoints);
      ensurePrivateDir(dir);
      const found = findCheckpoint(dir, file, request.name);
      if (space.entries.requests.has(request.id)) {
        return found === null ? checkpointInfo(request, []) : readCheckpointInfo(found);
      }
      if (!request.overwrite && found !== null) throw new CheckpointExistsError(ns, request.name);
      const now = Date.now();
      const keys: string[] = [];
      for (const [key, r] of space.entries) {
        if (r.expiresAt === null || r.expiresAt > now) keys.push(key);
      }
      const { info, parts } = encodeCheckpoint(
        checkpointInfo({ ...request, parent: space.entries.head?.name ?? null }, []),
        sortKeys(keys),
        space.entries,
      );
      writeCheckpoint(dir, file, found, parts);
      this.#recordRequest(space, request.id, {
        name: request.name,
        via: "checkpoint",
        at: request.createdAt,
      });
      return info;
    });
  }

  /** Lists checkpoints, newest first. */
  listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    try {
      const dir = join(this.#space(ns).dir, FILES.checkpoints);
      return Promise.resolve(checkpointInfos(dir).sort(newestFirst));
    } catch (error) {
      return Promise.reject(mapError(error, `list checkpoints of ${JSON.stringify(ns)}`));
    }
  }

  /** Reads a checkpoint's entries. */
  readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    return this.#op(() => this.#readCheckpoint(ns, name));
  }

  async #readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    try {
      validateCheckpointName(name);
      const file = await checkpointFile(name);
      const dir = join(this.#space(ns, false).dir, FILES.checkpoints);
      const found = findCheckpoint(dir, file, name);
      if (found === null) return null;
      // Files written before byte order was part of the contract hold insertion order.
      return readCheckpointFile(found).entries.sort((a, b) => compareKeys(a.key, b.key));
    } catch (error) {
      throw mapError(error, `read checkpoint ${JSON.stringify(name)}`);
    }
  }

  /**
   * Makes the checkpoint the new snapshot generation, atomically, with fresh
   * versions (the request id) and the id recorded in the same snapshot.
   */
  restore(ns: string, name: string, options: RestoreOptions): Promise<boolean> {
    return this.#op(() => this.#restore(ns, name, options));
  }

  async #restore(ns: string, name: string, options: RestoreOptions): Promise<boolean> {
    validateCheckpointName(name);
    const file = await checkpointFile(name);
    return await this.#locked(ns, (space) => {
      if (space.entries.requests.has(options.id)) return true;
      const found = findCheckpoint(join(space.dir, FILES.checkpoints), file, name);
      if (found === null) return false;
      const now = Date.now();
      const next = new Entries();
      for (const e of readCheckpointFile(found).entries) {
        if (kept(e.key, options.keep)) continue;
        next.set(e.key, { value: e.value, version: options.id, expiresAt: e.expiresAt });
      }
      if (options.keep) {
        for (const [key, r] of space.entries) if (kept(key, options.keep)) next.set(key, r);
      }
      const requests = space.entries.requests.clone();
      requests.add(options.id, now);
      space.compact(next, { requests, head: { name, via: "restore", at: now } });
      return true;
    });
  }

  /** The checkpoint last taken or restored. */
  head(ns: string): Promise<Head | null> {
    try {
      const head = this.#read(ns).entries.head;
      return Promise.resolve(head && { ...head });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sets the head as given (one journal line). */
  importHead(ns: string, head: Head | null): Promise<void> {
    return this.#op(() => this.#importHead(ns, head));
  }

  async #importHead(ns: string, head: Head | null): Promise<void> {
    await this.#locked(ns, (space) => this.#recordRequest(space, crypto.randomUUID(), head));
  }

  /**
   * Deletes a checkpoint file. The request id is journaled first; a retry
   * that finds it recorded removes what is left and reports success.
   */
  deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean> {
    return this.#op(() => this.#deleteCheckpoint(ns, name, options));
  }

  async #deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean> {
    validateCheckpointName(name);
    const file = await checkpointFile(name);
    return await this.#locked(ns, (space) => {
      const dir = join(space.dir, FILES.checkpoints);
      const recorded = space.entries.requests.has(options.id);
      if (!recorded && findCheckpoint(dir, file, name) === null) return false;
      if (!recorded) this.#recordRequest(space, options.id);
      let removed = false;
      // Both, should a crash have left the old file beside the new one.
      for (let found; (found = findCheckpoint(dir, file, name)) !== null;) {
        removed = removeFile(found) || removed;
      }
      if (removed) fsyncDir(dir);
      return true;
    });
  }

  /** Writes a checkpoint file from given entries. */
  importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    return this.#op(() => this.#importCheckpoint(ns, info, entries));
  }

  async #importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    validateCheckpointName(info.name);
    const file = await checkpointFile(info.name);
    await this.#locked(ns, (space) => {
      const total = entries.reduce((n, e) => n + entryCost(e.key, e), 0);
      if (total > this.#maxBytes) throw tooBig(ns, total, this.#maxBytes);
      const dir = join(space.dir, FILES.checkpoints);
      ensurePrivateDir(dir);
      const sorted = [...entries].sort((a, b) => compareKeys(a.key, b.key));
      const counted = checkpointInfo(info, sorted);
      const found = findCheckpoint(dir, file, info.name);
      writeCheckpoint(dir, file, found, formatCheckpoint(counted, sorted));
    });
  }

  /** Namespaces (subfolders) that hold live keys or checkpoints. */
  namespaces(): Promise<string[]> {
    return this.#op(() => this.#namespaces());
  }

  async #namespaces(): Promise<string[]> {
    if (this.#inflight.closed) throw new ClosedError();
    checkFolder(this.#dir, true);
    const out: string[] = [];
    for (const ns of namespaceFolders(this.#dir)) {
      const [keys, cps] = await Promise.all([
        this.list(ns, { limit: 1 }),
        this.listCheckpoints(ns),
      ]);
      if (keys.keys.length > 0 || cps.length > 0) out.push(ns);
    }
    return out;
  }

  /** Deletes every key and checkpoint of the namespace; the new snapshot records the request id. */
  clear(ns: string, options: RequestOptions): Promise<void> {
    return this.#op(() => this.#clear(ns, options));
  }

  async #clear(ns: string, options: RequestOptions): Promise<void> {
    await this.#locked(ns, (space) => {
      if (space.entries.requests.has(options.id)) return;
      const dir = join(space.dir, FILES.checkpoints);
      for (const f of listDir(dir)) removeFile(join(dir, f));
      const requests = space.entries.requests.clone();
      requests.add(options.id, Date.now());
      space.compact(new Map(), { requests, head: null });
    });
  }

  /** Removes stale locks and temp files and repairs damaged files; see `recover()`. */
  async recover(ns: string): Promise<RecoveryReport> {
    try {
      validateNamespace(ns);
      // A link (or file) where the namespace folder should be is set aside first.
      const aside = setAsideNonFolder(join(this.#dir, namespaceFolder(ns)));
      this.#spaces.get(ns)?.unpin();
      this.#spaces.delete(ns);
      const dir = this.#space(ns).dir;
      const report = await recoverNamespace(dir, this.#lock, (entries, generation) => {
        const space = this.#space(ns);
        space.generation = generation - 1;
        space.compact(entries);
      });
      this.#space(ns).load();
      if (aside) {
        report.actions.unshift(aside.action);
        report.quarantined.unshift(aside.path);
      }
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

  /** Lets started writes finish, then forgets cached state and closes the journals it kept open. */
  async close(): Promise<void> {
    if (!await this.#inflight.close()) return;
    for (const space of this.#spaces.values()) space.unpin();
    this.#spaces.clear();
  }
}
