// One meaning of close() everywhere: operations already started finish,
// calls after close() reject with ClosedError. Managers and the backends
// whose operations await I/O (json, redis, kv) keep one of these.
import { ClosedError } from "../errors.ts";

/** Operations in flight, and whether new ones are still accepted. */
export class Inflight {
  #closed = false;
  readonly #ops = new Set<Promise<unknown>>();

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs an operation, or rejects with ClosedError once closing began. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ClosedError());
    const op = fn();
    this.#ops.add(op);
    const done = () => this.#ops.delete(op);
    op.then(done, done);
    return op;
  }

  /** Refuses new operations and waits for started ones; false if it was closed already. */
  async close(): Promise<boolean> {
    if (this.#closed) return false;
    this.#closed = true;
    while (this.#ops.size > 0) await Promise.allSettled([...this.#ops]);
    return true;
  }
}
