// A backend wrapper that loses replies: the call is applied by the wrapped
// backend, then (optionally) another writer runs, then a transient error is
// thrown as if the connection dropped before the reply arrived. The manager
// retries with the same request id; the backend must answer by that id.
import { BackendError } from "../errors.ts";
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

/** The mutating methods whose replies can be lost. */
export type Mutation = "commit" | "checkpoint" | "restore" | "deleteCheckpoint" | "clear";

/** Wraps a backend; {@linkcode FaultyBackend.loseNext} makes the next call of a method lose its reply. */
export class FaultyBackend implements Backend {
  readonly name: string;
  readonly capabilities: BackendCapabilities;
  readonly inner: Backend;
  /** Calls whose replies were lost so far. */
  lost = 0;
  #plan = new Map<Mutation, () => Promise<unknown>>();

  constructor(inner: Backend) {
    this.inner = inner;
    this.name = inner.name;
    this.capabilities = inner.capabilities;
  }

  /** The next call of `method` applies, runs `between` (another writer), then throws a transient error. */
  loseNext(method: Mutation, between: () => Promise<unknown> = () => Promise.resolve()): void {
    this.#plan.set(method, between);
  }

  async #mutate<T>(method: Mutation, call: () => Promise<T>): Promise<T> {
    const between = this.#plan.get(method);
    const result = await call();
    if (!between) return result;
    this.#plan.delete(method);
    await between();
    this.lost++;
    throw new BackendError(`the reply of ${method} was lost (injected fault)`, {
      transient: true,
    });
  }

  get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    return this.inner.get(ns, keys);
  }
  commit(ns: string, op: CommitOp): Promise<CommitResult> {
    return this.#mutate("commit", () => this.inner.commit(ns, op));
  }
  list(ns: string, options: ListOptions): Promise<KeyPage> {
    return this.inner.list(ns, options);
  }
  checkpoint(ns: string, request: CheckpointRequest): Promise<CheckpointInfo> {
    return this.#mutate("checkpoint", () => this.inner.checkpoint(ns, request));
  }
  listCheckpoints(ns: string): Promise<CheckpointInfo[]> {
    return this.inner.listCheckpoints(ns);
  }
  readCheckpoint(ns: string, name: string): Promise<StoredEntry[] | null> {
    return this.inner.readCheckpoint(ns, name);
  }
  restore(ns: string, name: string, options: RestoreOptions): Promise<boolean> {
    return this.#mutate("restore", () => this.inner.restore(ns, name, options));
  }
  deleteCheckpoint(ns: string, name: string, options: RequestOptions): Promise<boolean> {
    return this.#mutate("deleteCheckpoint", () => this.inner.deleteCheckpoint(ns, name, options));
  }
  importCheckpoint(ns: string, info: CheckpointInfo, entries: StoredEntry[]): Promise<void> {
    return this.inner.importCheckpoint(ns, info, entries);
  }
  head(ns: string): Promise<Head | null> {
    return this.inner.head(ns);
  }
  importHead(ns: string, head: Head | null): Promise<void> {
    return this.inner.importHead(ns, head);
  }
  namespaces(): Promise<string[]> {
    return this.inner.namespaces();
  }
  clear(ns: string, options: RequestOptions): Promise<void> {
    return this.#mutate("clear", () => this.inner.clear(ns, options));
  }
  recover(ns: string): Promise<RecoveryReport> {
    return this.inner.recover?.(ns) ?? Promise.resolve({ actions: [], quarantined: [], ok: true });
  }
  /** Leaves the wrapped backend open: whoever made it closes it. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
