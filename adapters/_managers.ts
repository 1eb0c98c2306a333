// Managers for several namespaces of one backend, opened on first use. The
// Keyv store opens one per Keyv namespace; the LangGraph saver uses one.
import { ClosedError, type OpenOptions, StateManager } from "../mod.ts";

/** What an adapter is built on: options to open a backend, or a manager you opened. */
export type AdapterTarget = OpenOptions | StateManager;

/**
 * Opens managers lazily on one backend: the first (the root) from the
 * options, the others on the root's backend object. A manager passed in is
 * the root and is never closed here; neither is a backend object passed in.
 */
export class ManagerPool {
  readonly #options: OpenOptions;
  readonly #given: StateManager | undefined;
  readonly #defaultNamespace: string;
  #root: Promise<StateManager> | undefined;
  readonly #others = new Map<string, Promise<StateManager>>();
  #closed = false;

  constructor(target: AdapterTarget, defaultNamespace: string) {
    this.#given = target instanceof StateManager ? target : undefined;
    this.#options = target instanceof StateManager ? {} : target;
    this.#defaultNamespace = target instanceof StateManager
      ? target.namespace
      : target.namespace ?? defaultNamespace;
  }

  /** The namespace used when none is asked for. */
  get defaultNamespace(): string {
    return this.#defaultNamespace;
  }

  /** The backend's name, once it is open (else what the options name). */
  get backendName(): string {
    const backend = this.#given?.backend ?? this.#options.backend;
    if (typeof backend === "object" && backend !== null) return backend.name;
    return backend ?? "json";
  }

  /** The manager of `namespace` (default: the default namespace). */
  get(namespace = this.#defaultNamespace): Promise<StateManager> {
    if (this.#closed) return Promise.reject(new ClosedError());
    const root = this.#openRoot();
    if (namespace === this.#defaultNamespace) return root;
    let manager = this.#others.get(namespace);
    if (!manager) {
      // The root's backend object with the root's settings; its location
      // options (dir, url, ...) are ignored next to an object, as open() does.
      manager = root.then((r) =>
        StateManager.open({ ...this.#options, backend: r.backend, namespace } as OpenOptions)
      );
      this.#others.set(namespace, manager);
      // A failed open is not remembered: the next call tries again.
      manager.catch(() => this.#others.delete(namespace));
    }
    return manager;
  }

  #openRoot(): Promise<StateManager> {
    if (this.#given) return Promise.resolve(this.#given);
    if (!this.#root) {
      const root = StateManager.open({ ...this.#options, namespace: this.#defaultNamespace });
      this.#root = root;
      root.catch(() => {
        if (this.#root === root) this.#root = undefined;
      });
    }
    return this.#root;
  }

  /** Closes what this pool opened (the root last: it owns the backend it opened). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const others = [...this.#others.values()];
    this.#others.clear();
    await Promise.all(others.map((m) => m.then((s) => s.close(), () => {})));
    const root = this.#root;
    this.#root = undefined;
    await root?.then((s) => s.close(), () => {});
  }
}
