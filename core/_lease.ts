// A step's lease: a key with a TTL that says who runs the step, renewed by
// its holder, taken with an optimistic check so two runners never hold it at
// once. A holder that died on this host is seen at once (its pid is gone);
// elsewhere its lease lapses when the TTL runs out.
import { hostname, pid } from "../backends/_sys_platform.ts";
import { isAlive } from "../backends/_lock.ts";
import { ConflictError } from "../errors.ts";
import type { Engine } from "./_engine.ts";
import { LEASE_PREFIX, type LeaseOptions } from "./_step_records.ts";
import type { Check, SetOp } from "../types.ts";

/** What a lease key holds. */
interface Holder {
  pid: number;
  host: string;
  at: number;
}

/** How often a waiting runner looks at the lease again, in ms (at most). */
const POLL_MS = 200;
/** Default lease lifetime. */
export const DEFAULT_LEASE_MS = 30_000;

let host: string | undefined;
function thisHost(): string {
  try {
    host ??= hostname();
  } catch {
    host = "unknown"; // Deno without --allow-sys: leases of dead processes then lapse by TTL
  }
  return host;
}

/** A held lease. Call `stop()` before the final commit, and `release()` if that commit did not. */
export class Lease {
  readonly key: string;
  /** The lease key's current version (null: it lapsed): check it in the commit that ends the step. */
  version: string | null;
  /** Set when a renewal found the lease taken (by a runner that thought this one dead). */
  lost = false;
  readonly #engine: Engine;
  readonly #ttlMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #renewing: Promise<void> = Promise.resolve();
  /** The holder text this runner wrote last: a lease is this runner's while the key holds it. */
  #text: string;

  private constructor(engine: Engine, key: string, version: string, ttlMs: number, text: string) {
    this.#engine = engine;
    this.key = key;
    this.version = version;
    this.#ttlMs = ttlMs;
    this.#text = text;
    this.#start();
  }

  /** Takes the lease of step `name`, waiting for another holder unless `wait` is false. */
  static async acquire(engine: Engine, name: string, options: LeaseOptions): Promise<Lease> {
    const ttlMs = options.ttlMs ?? DEFAULT_LEASE_MS;
    const key = LEASE_PREFIX + name;
    let waited = false;
    for (;;) {
      const current = await engine.read(key, true);
      const holder = current && parseHolder(current.value);
      const gone = holder !== null && holder.host === thisHost() && holder.pid !== pid &&
        !isAlive(holder.pid);
      if (current === null || gone) {
        const set = write(key, ttlMs);
        const result = await engine.commit(
          { checks: [{ key, version: current?.version ?? null }], sets: [set], deletes: [] },
          true,
        );
        if (result.ok) return new Lease(engine, key, result.version, ttlMs, set.value);
        continue; // someone else took it first: look again
      }
      if (options.wait === false) {
        throw new ConflictError(
          `Step ${JSON.stringify(name)} in namespace ${
            JSON.stringify(engine.namespace)
          } is being run by process ${holder?.pid ?? "?"} on ${
            holder?.host ?? "?"
          }: wait for it, or run again later`,
        );
      }
      if (!waited && holder) options.onWait?.({ pid: holder.pid, host: holder.host });
      waited = true;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, ttlMs / 4)));
    }
  }

  /** The check that the lease is still this runner's. */
  check(): Check {
    return { key: this.key, version: this.version };
  }

  /** Stops renewing (and waits for a renewal under way). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#renewing;
  }

  /**
   * After the final commit failed its check: whether the lease is still
   * nobody else's. A lease that lapsed (a stalled process missed renewals)
   * and was not taken by another runner still counts; its check then expects
   * the key to be absent.
   */
  async stillOurs(): Promise<boolean> {
    const entry = await this.#engine.read(this.key, true);
    if (entry === null) this.version = null;
    else if (entry.value === this.#text) this.version = entry.version;
    else this.lost = true;
    return !this.lost;
  }

  /**
   * After a rollback rewrote the lease key (perhaps with a new version):
   * takes up the lease again if it is still nobody else's, and renews it.
   */
  async resync(): Promise<void> {
    if (await this.stillOurs()) this.#start();
  }

  /** Stops renewing and deletes the lease if it is still this runner's. */
  async release(): Promise<void> {
    await this.stop();
    if (this.lost) return;
    await this.#engine.commit({ checks: [this.check()], sets: [], deletes: [this.key] }, true);
  }

  async #renew(): Promise<void> {
    if (this.#timer === undefined || this.lost) return;
    try {
      const set = write(this.key, this.#ttlMs);
      const result = await this.#engine.commit(
        { checks: [this.check()], sets: [set], deletes: [] },
        true,
      );
      if (result.ok) {
        this.version = result.version;
        this.#text = set.value;
      } else this.lost = true;
    } catch {
      // A failed renewal is retried at the next tick; the TTL leaves room for two misses.
    }
  }

  #start(): void {
    this.#timer = setInterval(() => {
      this.#renewing = this.#renewing.then(() => this.#renew());
    }, Math.max(10, this.#ttlMs / 3));
  }
}

function write(key: string, ttlMs: number): SetOp {
  const holder: Holder = { pid, host: thisHost(), at: Date.now() };
  return { key, value: JSON.stringify(holder), expiresAt: Date.now() + ttlMs };
}

function parseHolder(text: string): Holder | null {
  try {
    const h = JSON.parse(text);
    return typeof h?.pid === "number" && typeof h?.host === "string" ? h : null;
  } catch {
    return null;
  }
}
