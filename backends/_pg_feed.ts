// The PostgreSQL backend's push change feed: one dedicated connection (outside
// the pool) LISTENs on the schema's channel; every write sends
// `NOTIFY <channel>, '<namespace> <counter>[ <keys as JSON>]'` from inside its
// transaction, so it is delivered exactly when the write commits.
//
// How the never-stale cache stays correct (Backend.changeToken):
// - The token is `<instance>:<generation>:<counter>`: the newest change
//   counter this connection has been told about for the namespace, within the
//   current connection (`generation` moves on every reconnect, and the
//   counters start over, so a token never repeats).
// - Before answering from memory, the token is proven current by one round
//   trip on the LISTEN connection (an empty query). PostgreSQL signals every
//   listener while a writer commits (before the writer sees its COMMIT
//   acknowledged), and a listening session sends the notifications it has
//   been signalled before it answers its next query. So once that reply
//   arrives, every NOTIFY of a write that completed before the call began has
//   arrived too, and was counted. Concurrent callers share a probe, but only
//   one sent after they called.
// - When the connection drops, the generation moves (every cached entry is
//   dropped on the next read), watchers get a hint without keys (they
//   re-read everything), and the feed reconnects; a probe that spans a drop
//   answers a fresh token that was never used before.
import { BackendError, ClosedError } from "../errors.ts";
import type { ChangeFeed } from "../types.ts";
import type { PgClient } from "./_pg_connect.ts";
import { ident } from "./_pg_sql.ts";
import { type Listener, Listeners } from "./_listeners.ts";

/** The LISTEN connection, the counters it has heard of, and the watchers it feeds. */
export class ListenFeed {
  readonly #newClient: (name: string) => PgClient;
  readonly #channel: string;
  readonly #instance = Math.random().toString(36).slice(2, 10);
  readonly #counters = new Map<string, number>();
  readonly #listeners = new Listeners();
  #client: PgClient | null = null;
  #connecting: Promise<PgClient> | null = null;
  #generation = 0;
  #fresh = 0;
  #current: Promise<void> | null = null;
  #next: Promise<void> | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retries = 0;
  #closed = false;

  constructor(newClient: (name: string) => PgClient, channel: string) {
    this.#newClient = newClient;
    this.#channel = channel;
  }

  /** The namespace's change token, proven current by a round trip on the LISTEN connection. */
  async token(ns: string): Promise<string> {
    const client = await this.#connect();
    const generation = this.#generation;
    await this.#probe();
    if (this.#client !== client || this.#generation !== generation) {
      return `${this.#instance}:x${++this.#fresh}`; // the feed broke meanwhile: trust nothing
    }
    return `${this.#instance}:${generation}:${this.#counters.get(ns) ?? 0}`;
  }

  /** Reports changes to `ns` as they commit; `ready` resolves once LISTEN is in place. */
  watch(ns: string, onChange: Listener): ChangeFeed {
    const remove = this.#listeners.add(ns, onChange);
    const ready = this.#connect().then(() => {});
    ready.catch(() => {}); // the watcher reads `ready`; nobody else has to
    return {
      ready,
      close: () => {
        remove();
        return Promise.resolve();
      },
    };
  }

  /** Ends the LISTEN connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#listeners.clear();
    const client = this.#client ?? await this.#connecting?.catch(() => null);
    this.#client = null;
    await client?.end().catch(() => {});
  }

  #connect(): Promise<PgClient> {
    if (this.#closed) return Promise.reject(new ClosedError());
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= this.#open().finally(() => (this.#connecting = null));
    return this.#connecting;
  }

  async #open(): Promise<PgClient> {
    // Named so that an operator (or a test) can tell it from the pool's connections.
    const client = this.#newClient(`managing-state listen ${this.#channel}`.slice(0, 63));
    client.on("error", () => this.#drop(client));
    client.on("end", () => this.#drop(client));
    client.on("notification", (m: { channel: string; payload?: string | undefined }) => {
      if (this.#client === client && m.channel === this.#channel) this.#onNotify(m.payload ?? "");
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${ident(this.#channel)}`);
    } catch (error) {
      client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      throw new ClosedError();
    }
    const reconnected = this.#generation > 0;
    this.#generation++;
    this.#counters.clear();
    this.#client = client;
    this.#retries = 0;
    // Changes made while nobody listened were not heard: watchers re-read everything.
    if (reconnected) this.#hintAll();
    return client;
  }

  #drop(client: PgClient): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#generation++;
    this.#counters.clear();
    client.end().catch(() => {});
    this.#hintAll();
    this.#reconnectLater();
  }

  /** Keeps trying while watchers wait (tokens reconnect on their own, when asked). */
  #reconnectLater(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#retry !== undefined) return;
    const delay = Math.min(50 * 2 ** this.#retries++, 2000);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect().catch(() => this.#reconnectLater());
    }, delay);
  }

  /** Waits for a round trip on the LISTEN connection that starts after this call. */
  #probe(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#current) return this.#start();
    const next = this.#current.then(() => {}, () => {}).then(() => {
      this.#next = null;
      return this.#start();
    });
    this.#next = next;
    return next;
  }

  #start(): Promise<void> {
    const client = this.#client;
    const probe: Promise<void> = client ? client.query("").then(() => {}) : Promise.reject(
      new BackendError("the LISTEN connection to PostgreSQL was lost", { transient: true }),
    );
    this.#current = probe;
    const done = () => {
      if (this.#current === probe) this.#current = null;
    };
    probe.then(done, done);
    return probe;
  }

  #onNotify(payload: string): void {
    const first = payload.indexOf(" ");
    if (first <= 0) return;
    const second = payload.indexOf(" ", first + 1);
    const ns = payload.slice(0, first);
    const counter = Number(payload.slice(first + 1, second === -1 ? undefined : second));
    if (counter > (this.#counters.get(ns) ?? 0)) this.#counters.set(ns, counter);
    if (!this.#listeners.has(ns)) return;
    let keys: string[] | undefined;
    if (second !== -1) {
      try {
        keys = JSON.parse(payload.slice(second + 1)) as string[];
      } catch {
        keys = undefined; // unreadable: report a change of anything
      }
    }
    this.#listeners.notify(ns, keys ? { keys } : {});
  }

  #hintAll(): void {
    this.#listeners.notifyAll();
  }
}
