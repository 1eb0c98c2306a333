// A lean connection pool for the backend's own connections. node-postgres'
// pg.Pool re-arms an idle timer and walks its event machinery on every
// checkout, which costs ~10 us per statement here (a third of a primary-key
// SELECT on loopback); this pool hands out an idle client synchronously. A
// caller's pg.Pool is used as it is.
import pg from "pg";
import type { PgPool } from "./_pg_options.ts";

/**
 * Errors raised while getting a connection, before any statement was sent:
 * a write that failed so changed nothing (the classifier reads this).
 */
export const beforeSending: WeakSet<object> = new WeakSet();

function unsent(error: unknown): never {
  if (typeof error === "object" && error !== null) beforeSending.add(error);
  throw error;
}

type Waiter = { resolve(client: pg.Client): void; reject(error: unknown): void };

/** Whether an error left the connection unusable (not an error the server reported). */
function broken(error: unknown): boolean {
  const e = error as { severity?: unknown; code?: unknown } | null;
  return !(typeof e?.severity === "string" && typeof e.code === "string");
}

/** Up to `max` clients made by `make`; idle ones are reused, newest first. */
export class LeanPool implements PgPool {
  readonly options: Record<string, unknown>;
  readonly #make: () => pg.Client;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #idle: pg.Client[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #dead = new WeakSet<pg.Client>();
  #size = 0;
  #ended = false;

  constructor(config: pg.ClientConfig, max: number, timeoutMs: number) {
    this.options = { ...config };
    this.#make = () => new pg.Client(config);
    this.#max = max;
    this.#timeoutMs = timeoutMs;
  }

  /** Runs one statement on an idle (or new) client. */
  async query(config: unknown): Promise<{ rows: Record<string, unknown>[] }> {
    const client = this.#idle.pop() ?? await this.#acquire().catch(unsent);
    let failed: unknown;
    try {
      return await client.query(config as pg.QueryConfig);
    } catch (error) {
      failed = error;
      throw error;
    } finally {
      this.#release(client, failed !== undefined && broken(failed));
    }
  }

  /** Checks out a client; call its `release(error?)` when done. */
  async connect(): Promise<unknown> {
    const client = this.#idle.pop() ?? await this.#acquire();
    return {
      query: (text: string, values?: unknown[]) => client.query(text, values),
      release: (error?: unknown) => this.#release(client, Boolean(error)),
    };
  }

  /** Pool errors are reported through the failing call; nothing to listen to. */
  on(): this {
    return this;
  }

  /** Ends every idle client; busy ones end when they come back. */
  async end(): Promise<void> {
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new Error("the pool was ended"));
    await Promise.all(this.#idle.splice(0).map((c) => c.end().catch(() => {})));
  }

  #acquire(): Promise<pg.Client> {
    if (this.#ended) return Promise.reject(new Error("the pool was ended"));
    if (this.#size < this.#max) return this.#open();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (client) => {
          clearTimeout(timer);
          resolve(client);
        },
        reject,
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error("timeout exceeded when trying to connect (every connection is busy)"));
      }, this.#timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  async #open(): Promise<pg.Client> {
    this.#size++;
    const client = this.#make();
    // A connection that breaks while idle is dropped; a busy one fails its query.
    client.on("error", () => this.#drop(client));
    client.on("end", () => this.#drop(client));
    try {
      await client.connect();
      return client;
    } catch (error) {
      this.#drop(client);
      throw error;
    }
  }

  #drop(client: pg.Client): void {
    if (this.#dead.has(client)) return;
    this.#dead.add(client);
    this.#size--;
    const i = this.#idle.indexOf(client);
    if (i !== -1) this.#idle.splice(i, 1);
    client.end().catch(() => {});
    // A waiter may now open a connection of its own.
    const waiter = this.#waiters.shift();
    if (waiter) this.#open().then(waiter.resolve, waiter.reject);
  }

  #release(client: pg.Client, isBroken: boolean): void {
    if (isBroken || this.#ended || this.#dead.has(client)) return this.#drop(client);
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(client);
    else this.#idle.push(client);
  }
}
