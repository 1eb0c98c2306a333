// The Redis backend's command timeout. ioredis' own `commandTimeout` arms a
// timer for every command, which costs about as much as 15-20% of a loopback
// round trip; this keeps one coarse interval instead, running only while
// operations are pending, and fails an operation that has waited longer than
// the timeout with the same error ioredis would give ("Command timed out":
// the command may still run, see _errors_redis.ts). The late reply is ignored.
import { clearInterval, setInterval } from "node:timers";

/** A pending operation: when it started and how to fail it. */
interface Pending {
  start: number;
  fail: (error: Error) => void;
}

/** Fails operations that take longer than `timeoutMs`. */
export class Watchdog {
  readonly timeoutMs: number;
  readonly #pending = new Set<Pending>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  /** `op`, failed with "Command timed out" if it has not settled within the timeout. */
  guard<T>(op: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { start: Date.now(), fail: reject };
      this.#pending.add(entry);
      this.#arm();
      op.then(
        (value) => {
          this.#pending.delete(entry);
          resolve(value);
        },
        (error) => {
          this.#pending.delete(entry);
          reject(error);
        },
      );
    });
  }

  #arm(): void {
    if (this.#timer !== undefined) return;
    const tick = Math.max(10, Math.min(250, Math.floor(this.timeoutMs / 4)));
    this.#timer = setInterval(() => this.#check(), tick);
    this.#timer.unref(); // pending commands keep the process alive, not this
  }

  #check(): void {
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    // Oldest first (a Set keeps insertion order): stop at the first that still has time.
    for (const entry of this.#pending) {
      if (now - entry.start < this.timeoutMs) break;
      this.#pending.delete(entry);
      entry.fail(new Error("Command timed out"));
    }
  }
}
