// One meaning of close() everywhere: operations already started finish,
// calls after close() reject with ClosedError. Managers and the backends
// whose operations await I/O (json, redis, kv) keep one of these.
import { ClosedError } from "../errors.ts";

/** Operations in flight, and whether new ones are still accepted. */
export class Inflight {
  #closed = false;
  // A count, not a set of promises: nothing to add and delete per operation.
  #count = 0;
  #idle: (() => void) | null = null;
  readonly #done = (): void => {
    if (--this.#count > 0 || !this.#idle) return;
    const idle = this.#idle;
    this.#idle = null;
    idle();
  };

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs an operation, or rejects with ClosedError once closing began. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError());
    const op = fn();
    this.#count++;
    op.then(this.#done, this.#done);
    return op;
  }

  /** Refuses new operations and waits for started ones; false if it was closed already. */
  async close(): Promise<boolean> {
    if (this.#closed) return false;
    this.#closed = true;
    if (this.#count > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    return true;
  }
}
