// The managers the server works through: one backend, opened once from the
// CLI's settings, and one StateManager per namespace on it, opened on first
// use. Every tool call and every subscription of a namespace shares its
// manager, so a namespace costs one cache and (for Redis) no new connection.
import { openBackend } from "../backends/_open.ts";
import { locationOf } from "../cli/_context.ts";
import type { Settings } from "../cli/_config.ts";
import { StateManager } from "../state_manager.ts";
import type { Backend } from "../types.ts";
import { validateNamespace } from "../core/_validate.ts";

/** Managers by namespace over one backend. */
export class States {
  /** The namespace a tool works in when its call names none. */
  readonly defaultNamespace: string;
  readonly #settings: Settings;
  #backend: Promise<Backend> | null = null;
  readonly #managers = new Map<string, Promise<StateManager>>();
  #closed = false;

  constructor(settings: Settings) {
    this.#settings = settings;
    this.defaultNamespace = settings.namespace;
  }

  /** The backend's URL, so error messages can leave its password out. */
  get url(): string | undefined {
    return this.#settings.url;
  }

  /** The manager of `namespace` (default: the server's), opened on first use. */
  get(namespace: string = this.defaultNamespace): Promise<StateManager> {
    validateNamespace(namespace);
    let manager = this.#managers.get(namespace);
    if (!manager) {
      manager = this.#backendOnce().then((backend) => StateManager.open({ backend, namespace }));
      // A failed open (a damaged namespace) is not remembered: the next call tries again.
      manager.catch(() => this.#managers.delete(namespace));
      this.#managers.set(namespace, manager);
    }
    return manager;
  }

  /**
   * Opens the backend now (a wrong backend name fails here, before the
   * server starts); Redis connects on first use, so a server that is down
   * is answered per call, and the next call tries again.
   */
  async open(): Promise<void> {
    await this.#backendOnce();
  }

  #backendOnce(): Promise<Backend> {
    if (this.#closed) return Promise.reject(new Error("The server is shutting down"));
    if (!this.#backend) {
      this.#backend = openBackend(this.#settings.backend, locationOf(this.#settings));
      this.#backend.catch(() => (this.#backend = null)); // e.g. Redis down: retry on the next call
    }
    return this.#backend;
  }

  /** Closes every manager (and so their watchers), then the backend. */
  async close(): Promise<void> {
    this.#closed = true;
    const managers = [...this.#managers.values()];
    this.#managers.clear();
    await Promise.allSettled(managers.map(async (m) => (await m).close()));
    const backend = this.#backend;
    this.#backend = null;
    if (backend) await (await backend.catch(() => null))?.close();
  }
}
