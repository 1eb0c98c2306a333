// The Redis backend's push change feed, from server-assisted client-side
// caching (ioredis speaks RESP2 here, so invalidations are redirected to a
// second connection):
// - `sub` runs `SUBSCRIBE __redis__:invalidate`;
// - `tracker` runs `CLIENT TRACKING ON REDIRECT <sub's id>` and then reads
//   (GET) the change counter `k` of each namespace in use: Redis remembers the
//   read and sends one invalidation naming `k` at the next write to it. Every
//   write script INCRs `k`; a FLUSHDB/FLUSHALL sends an invalidation naming
//   nothing (read as "everything changed"). After an invalidation `k` is no
//   longer tracked until `tracker` reads it again ("re-arming"), so a stream
//   of writes with nobody reading costs one message, not one per write.
//
// How the never-stale cache stays correct (Backend.changeToken):
// - The token is `<instance>:<generation>:<counter>`: per namespace, the
//   invalidations heard plus the re-arms done on the current pair of
//   connections (`generation` moves whenever the pair is replaced, and the
//   counts start over, so a token never repeats).
// - A token is answered only while `k` is armed: a call that finds it
//   disarmed re-arms it (and counts one change: writes between the
//   invalidation and the re-arm sent nothing), in parallel with the probe.
// - Before answering, the token is proven current by one PING on `sub`,
//   sent after the call began. Redis queues an invalidation on `sub` while it
//   runs the write, before it reads any command sent after the writer's reply
//   arrived; the PONG follows it on the same connection. So once the PONG
//   arrives, every invalidation of a write acknowledged (to any process)
//   before the call began has arrived too, and was counted. Concurrent
//   callers share a probe, but only one sent after they called.
// - Either connection closing (a killed server, a dropped or too-slow
//   subscriber, a failover) ends the pair: the generation moves, watchers get
//   a hint without keys, and the next call opens a new pair. Neither
//   connection reconnects by itself: a resubscribed `sub` would have missed
//   invalidations silently. While no pair can be opened, every call answers a
//   fresh token that was never used before (reads then go to the server).
import type { Redis } from "ioredis";
import { ClosedError } from "../errors.ts";
import type { ChangeFeed } from "../types.ts";
import type { Watchdog } from "./_redis_watchdog.ts";
import { type Listener, Listeners } from "./_listeners.ts";

const CHANNEL = "__redis__:invalidate";
/** After a failed open, calls answer fresh tokens for this long before trying again. */
const RETRY_MS = 1000;

interface Pair {
  sub: Redis;
  tracker: Redis;
  /** Keys read by `tracker` and not invalidated since. */
  armed: Set<string>;
  /** Re-arms in flight. */
  arming: Map<string, Promise<unknown>>;
}

/** The tracking connections, the invalidations they have counted, and the watchers they feed. */
export class TrackingFeed {
  readonly #base: Redis;
  readonly #instance = Math.random().toString(36).slice(2, 10);
  readonly #counters = new Map<string, number>();
  readonly #listeners = new Listeners();
  #pair: Pair | null = null;
  #opening: Promise<Pair> | null = null;
  #generation = 0;
  #fresh = 0;
  #failedAt = -Infinity;
  #current: Promise<unknown> | null = null;
  #next: Promise<unknown> | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retries = 0;
  #closed = false;

  readonly #watchdog: Watchdog | undefined;

  /**
   * `base` is the backend's own (standalone or Sentinel) client; the feed
   * opens duplicates. `watchdog` bounds their commands when `base` has no
   * commandTimeout of its own: a PING that never returns is a lagging feed.
   */
  constructor(base: Redis, watchdog: Watchdog | undefined) {
    this.#base = base;
    this.#watchdog = watchdog;
  }

  /** The token of the namespace whose change counter is `key`, proven current by a PING. */
  async token(key: string): Promise<string> {
    if (this.#closed) throw new ClosedError();
    if (!this.#pair && Date.now() - this.#failedAt < RETRY_MS) return this.#freshToken();
    let pair: Pair | null = this.#pair;
    try {
      pair ??= await this.#connect();
      const generation = this.#generation;
      if (pair.armed.has(key)) await this.#probe(pair);
      else await Promise.all([this.#arm(pair, key), this.#probe(pair)]);
      if (this.#pair !== pair || this.#generation !== generation) return this.#freshToken();
      return `${this.#instance}:${generation}:${this.#counters.get(key) ?? 0}`;
    } catch {
      // The feed is down or lags: trust nothing cached; the read itself reports any outage.
      this.#failedAt = Date.now();
      if (pair) this.#drop(pair);
      return this.#freshToken();
    }
  }

  /** Reports changes to the namespace whose change counter is `key`. */
  watch(key: string, onChange: Listener): ChangeFeed {
    const remove = this.#listeners.add(key, onChange);
    const ready = this.#connect().then((pair) => this.#arm(pair, key)).then(() => {});
    ready.catch(() => this.#reconnectLater());
    return {
      ready,
      close: () => {
        remove();
        return Promise.resolve();
      },
    };
  }

  /** Ends both connections. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#listeners.clear();
    const pair = this.#pair ?? await this.#opening?.catch(() => null);
    this.#pair = null;
    if (pair) end(pair);
  }

  /** A token never answered before: nothing cached may be trusted. */
  freshToken(): string {
    return this.#freshToken();
  }

  #freshToken(): string {
    return `${this.#instance}:x${++this.#fresh}`;
  }

  #connect(): Promise<Pair> {
    if (this.#closed) return Promise.reject(new ClosedError());
    if (this.#pair) return Promise.resolve(this.#pair);
    this.#opening ??= this.#open().finally(() => (this.#opening = null));
    return this.#opening;
  }

  async #open(): Promise<Pair> {
    const options = {
      lazyConnect: true,
      retryStrategy: () => null,
      enableOfflineQueue: false,
      autoResubscribe: false,
      // RESP2: invalidations then arrive as messages on the channel (ioredis drops RESP3 "invalidate" pushes).
      protocol: 2 as const,
      connectionName: "managing-state-tracking",
    };
    const sub = this.#base.duplicate(options);
    const tracker = this.#base.duplicate(options);
    const pair: Pair = { sub, tracker, armed: new Set(), arming: new Map() };
    for (const c of [sub, tracker]) {
      c.on("error", () => {});
      c.on("close", () => this.#drop(pair));
    }
    sub.on("messageBuffer", (channel: Buffer, payload: unknown) => {
      if (this.#pair === pair && String(channel) === CHANNEL) this.#onInvalidate(payload);
    });
    try {
      const bounded = <T>(op: Promise<T>) => this.#watchdog ? this.#watchdog.guard(op) : op;
      await bounded(Promise.all([sub.connect(), tracker.connect()]));
      const id = String(await bounded(sub.client("ID")));
      await bounded(sub.subscribe(CHANNEL));
      await bounded(tracker.call("CLIENT", "TRACKING", "ON", "REDIRECT", id));
    } catch (error) {
      end(pair);
      throw error;
    }
    if (this.#closed) {
      end(pair);
      throw new ClosedError();
    }
    if (sub.status !== "ready" || tracker.status !== "ready") throw new Error("connection lost");
    const reconnected = this.#generation > 0;
    this.#generation++;
    this.#counters.clear();
    this.#pair = pair;
    this.#retries = 0;
    // Changes made while nobody listened were not heard: watchers re-read everything.
    if (reconnected) this.#hintAll();
    for (const key of this.#listeners.keys()) this.#arm(pair, key).catch(() => {});
    return pair;
  }

  /**
   * Reads `key` on `tracker`, so that its next write sends an invalidation,
   * and counts one change (writes since the last invalidation sent none).
   * Concurrent callers share one read.
   */
  #arm(pair: Pair, key: string): Promise<unknown> {
    let done = pair.arming.get(key);
    if (done) return done;
    const before = this.#counters.get(key) ?? 0;
    const read = pair.tracker.get(key);
    done = (this.#watchdog ? this.#watchdog.guard(read) : read).then(() => {
      if (this.#pair !== pair) return;
      const now = this.#counters.get(key) ?? 0;
      // An invalidation during the read may be of a write after it: read again next time.
      if (now === before) pair.armed.add(key);
      this.#counters.set(key, now + 1);
      this.#hint(key);
    }).finally(() => pair.arming.delete(key));
    pair.arming.set(key, done);
    done.catch(() => this.#drop(pair));
    return done;
  }

  #drop(pair: Pair): void {
    end(pair);
    if (this.#pair !== pair) return;
    this.#pair = null;
    this.#generation++;
    this.#counters.clear();
    this.#hintAll();
    this.#reconnectLater();
  }

  /** Keeps trying while watchers wait (tokens reopen on their own, when asked). */
  #reconnectLater(): void {
    if (this.#closed || this.#listeners.size === 0 || this.#retry !== undefined) return;
    const delay = Math.min(50 * 2 ** this.#retries++, 2000);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect().catch(() => this.#reconnectLater());
    }, delay);
  }

  /** Waits for a PING on `sub` that is sent after this call. */
  #probe(pair: Pair): Promise<unknown> {
    if (this.#next) return this.#next;
    if (!this.#current) return this.#start(pair);
    const next = this.#current.then(() => {}, () => {}).then(() => {
      this.#next = null;
      return this.#start(pair);
    });
    this.#next = next;
    return next;
  }

  #start(pair: Pair): Promise<unknown> {
    const ping = pair.sub.ping();
    const probe = this.#watchdog ? this.#watchdog.guard(ping) : ping;
    this.#current = probe;
    const done = () => {
      if (this.#current === probe) this.#current = null;
    };
    probe.then(done, done);
    return probe;
  }

  #onInvalidate(payload: unknown): void {
    if (!Array.isArray(payload)) {
      // FLUSHDB, FLUSHALL (or a message we cannot read): everything may have
      // changed, and the server forgot what it tracked.
      this.#generation++;
      this.#counters.clear();
      this.#pair?.armed.clear();
      if (this.#pair) {
        for (const key of this.#listeners.keys()) this.#arm(this.#pair, key).catch(() => {});
      }
      this.#hintAll();
      return;
    }
    const pair = this.#pair!;
    for (const item of payload) {
      const key = String(item);
      this.#counters.set(key, (this.#counters.get(key) ?? 0) + 1);
      pair.armed.delete(key);
      if (!this.#listeners.has(key)) continue;
      this.#hint(key);
      // Watched: track it again at once (the re-arm hints once more, covering writes until then).
      this.#arm(pair, key).catch(() => {});
    }
  }

  #hint(key: string): void {
    this.#listeners.notify(key, {});
  }

  #hintAll(): void {
    this.#listeners.notifyAll();
  }
}

function end(pair: Pair): void {
  pair.sub.disconnect();
  pair.tracker.disconnect();
}
