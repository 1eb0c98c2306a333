// Namespace transactions of the Deno KV backend, for work larger than one
// Deno KV commit (big atomic writes, restore, clear, and checkpoints under
// heavy writes). The namespace's head key holds a lock with a lease:
//
// 1. acquire: head = { lock: { id, until, committed: false } }, with a check
//    on the head. Writers check the head in every commit, so none lands while
//    the lock is held; readers go on reading the unchanged keys.
// 2. prepare: read what is needed, write large values' chunks, and write the
//    redo log (the list of key writes) under [root, ns, "txn", id].
// 3. commit point: one commit flips the lock to `committed: true`.
// 4. apply the log in as many commits as needed (each checks the head), then
//    release the lock and move the change key, in one commit.
//
// Readers wait while a committed lock is held, so they see the namespace
// before or after, never between. A lock whose lease ran out is aborted if it
// was not committed, or rolled forward from its log if it was, by whichever
// process finds it first.
import { contention } from "./_errors_kv.ts";
import { type BackendError, StateDamagedError } from "../errors.ts";
import type { WalClock } from "./_kv_clock.ts";
import type { Known } from "./_kv_known.ts";
import type { KvDatabase, KvEntry, KvKey } from "./_kv_platform.ts";
import {
  BatchWriter,
  type Checks,
  decodeRecord,
  deleteBlob,
  encodeRecord,
  expireIn,
  getAll,
  kvCall,
  kvCleanup,
  type KvLayout,
  LIMITS,
  listAll,
  type Meta,
  recordKey,
  sleep,
  text,
  timeId,
  utf8,
} from "./_kv_store.ts";

/** A namespace lock. */
export interface Lock {
  /** The transaction id (names its log). */
  id: string;
  /** Lease end, ms since the epoch. */
  until: number;
  /** Whether the commit point passed (the log must be applied). */
  committed: boolean;
}

/** The head key's value and versionstamp. */
export interface HeadState {
  /** The lock, if one is held. */
  lock: Lock | null;
  /**
   * How many transactions reached their commit point. Readers compare it:
   * the keys can only change under a transaction while it moves.
   */
  seq: number;
  /** The head key's versionstamp (null before the first lock). */
  vs: string | null;
}

/** One write of a transaction's redo log. */
export type Op =
  | { t: "set"; key: string; meta: Meta; inline: string | null }
  | { t: "del"; key: string }
  | { t: "clear" }
  | { t: "req"; id: string; at: number }
  | { t: "lineage"; head: LineageHead | null };

/** The lineage head as stored (see Head in types.ts). */
export interface LineageHead {
  name: string;
  via: "checkpoint" | "restore";
  at: number;
}

/** What a transaction's `prepare` step returns. */
export interface Prepared<T> {
  /** The transaction's result. */
  result: T;
  /** Writes to apply atomically; none: just release the lock. */
  ops?: Op[];
  /** Extra checks for the commit point; if one fails, `prepare` runs again. */
  checks?: Checks;
}

/** What the backend's helpers share. */
export interface TxnContext {
  /** The open database. */
  kv: KvDatabase;
  /** The key layout. */
  layout: KvLayout;
  /** Namespace transactions. */
  txns: Txns;
  /** Request ids recorded through this database (pruning runs every so often). */
  recorded: number;
  /** The local file's change clock (see _kv_clock.ts); null for ":memory:", KV Connect or a given database. */
  clock: WalClock | null;
  /**
   * Per namespace, a clock reading at which its head held no committed
   * transaction: a read between two equal readings needs no head read.
   */
  unlockedAt: Map<string, string>;
  /** Records and heads last seen, for commits that skip reading them. */
  known: Known;
}

/** Runs namespace transactions and lets readers and writers wait for them. */
export class Txns {
  readonly #kv: KvDatabase;
  readonly #layout: KvLayout;
  readonly #leaseMs: number;
  readonly #known: Known;

  constructor(kv: KvDatabase, layout: KvLayout, leaseMs: number, known: Known) {
    this.#kv = kv;
    this.#layout = layout;
    this.#leaseMs = leaseMs;
    this.#known = known;
  }

  /** Reads the head. */
  async head(ns: string): Promise<HeadState> {
    const [entry] = await getAll(this.#kv, [this.#layout.head(ns)]);
    return decodeHead(entry!);
  }

  /**
   * Reads the head once no committed transaction is being applied (and, with
   * `writer`, once no lock is held at all). Expired locks are cleaned up.
   */
  async settled(ns: string, writer: boolean): Promise<HeadState> {
    return (await this.#settle(ns, writer, Infinity))!;
  }

  /** Like `settled(ns, true)`, but gives up (null) at `deadline` (ms since the epoch). */
  free(ns: string, deadline: number): Promise<HeadState | null> {
    return this.#settle(ns, true, deadline);
  }

  async #settle(ns: string, writer: boolean, deadline: number): Promise<HeadState | null> {
    for (let attempt = 0;; attempt++) {
      const state = await this.head(ns);
      const lock = state.lock;
      if (lock === null || (!lock.committed && !writer && lock.until > Date.now())) return state;
      if (lock.until <= Date.now()) await this.#takeOver(ns, state);
      else if (Date.now() >= deadline) return null;
      else await sleep(Math.random() * Math.min(50, 1 + attempt * 2));
    }
  }

  /** Aborts an expired uncommitted lock, or finishes an expired committed one. */
  async #takeOver(ns: string, state: HeadState): Promise<void> {
    const lock = state.lock!;
    if (lock.committed) {
      const log = await listAll(this.#kv, { prefix: this.#layout.txn(ns, lock.id) });
      const bytes = concat(log.map((e) => e.value as Uint8Array));
      let ops: Op[];
      try {
        ops = JSON.parse(text(bytes)) as Op[];
      } catch (error) {
        throw new StateDamagedError(
          `The redo log of transaction ${lock.id} in namespace ${
            JSON.stringify(ns)
          } is damaged: restore a checkpoint`,
          { cause: error },
        );
      }
      await this.#apply(ns, lock.id, ops, state.vs!, state.seq);
    } else if (await this.#release(ns, state.vs!, state.seq, false)) {
      await this.#deleteLog(ns, lock.id);
    }
  }

  /**
   * Runs `prepare` under the namespace lock and applies the writes it returns
   * atomically (as readers see it). Returns `prepare`'s result.
   */
  async run<T>(ns: string, prepare: (headVs: string) => Promise<Prepared<T>>): Promise<T> {
    const { lock, vs, seq } = await this.#acquire(ns);
    let committed = false;
    try {
      for (;;) {
        const prepared = await prepare(vs);
        const ops = prepared.ops ?? [];
        if (ops.length === 0) {
          await this.#release(ns, vs, seq, false);
          return prepared.result;
        }
        const head = this.#layout.head(ns);
        const log = new BatchWriter(this.#kv, [{ key: head, versionstamp: vs }], "write redo log");
        const bytes = utf8(JSON.stringify(ops));
        for (let i = 0; i * LIMITS.chunk < bytes.length; i++) {
          await log.set(
            [...this.#layout.txn(ns, lock.id), i],
            bytes.subarray(i * LIMITS.chunk, (i + 1) * LIMITS.chunk),
          );
        }
        if (!await log.flush()) throw lostLock(ns);
        const done: Lock = { ...lock, until: Date.now() + this.#leaseMs, committed: true };
        const result = await kvCall("commit a transaction", () =>
          this.#kv.atomic()
            .check({ key: head, versionstamp: vs }, ...(prepared.checks ?? []))
            .set(head, utf8(JSON.stringify({ lock: done, seq: seq + 1 })))
            .commit());
        if (result.ok) {
          committed = true;
          await this.#apply(ns, lock.id, ops, result.versionstamp!, seq + 1, true);
          return prepared.result;
        }
        await this.#deleteLog(ns, lock.id);
        if ((await this.head(ns)).vs !== vs) throw lostLock(ns);
      }
    } catch (error) {
      // Not committed: nothing was applied; the lock and the log must go (see
      // kvCleanup). A release that finds the head moved keeps the log: a commit
      // point that failed in transit may have landed, and the log finishes it.
      if (!committed) {
        try {
          if (await this.#release(ns, vs, seq, false)) await this.#deleteLog(ns, lock.id);
        } catch {
          // The error that stopped the transaction is the one to report.
        }
      }
      throw error;
    }
  }

  /**
   * Takes the namespace lock. Waiters queue with a ticket (a key under
   * "waiters" that expires with the lease) and take the lock oldest first,
   * so a process that runs transactions back to back cannot starve others.
   */
  async #acquire(ns: string): Promise<{ lock: Lock; vs: string; seq: number }> {
    const id = timeId();
    const head = this.#layout.head(ns);
    const ticket = [...this.#layout.waiters(ns), id];
    let ticketUntil = 0;
    try {
      for (let attempt = 0;; attempt++) {
        if (ticketUntil - Date.now() < this.#leaseMs / 2) {
          ticketUntil = Date.now() + this.#leaseMs;
          await kvCall("queue for the namespace lock", () =>
            this.#kv.atomic()
              .set(ticket, utf8(String(ticketUntil)), { expireIn: this.#leaseMs })
              .commit());
        }
        const state = await this.settled(ns, true);
        if (!await this.#olderWaiter(ns, id)) {
          const lock: Lock = { id, until: Date.now() + this.#leaseMs, committed: false };
          const result = await kvCall("lock the namespace", () =>
            this.#kv.atomic()
              .check({ key: head, versionstamp: state.vs })
              .set(head, utf8(JSON.stringify({ lock, seq: state.seq })))
              .delete(ticket)
              .commit());
          if (result.ok) return { lock, vs: result.versionstamp!, seq: state.seq };
        }
        await sleep(Math.random() * Math.min(20, 1 + attempt));
      }
    } catch (error) {
      // A ticket left behind would make later waiters queue behind it for a lease.
      await kvCleanup("leave the lock queue", () => this.#kv.atomic().delete(ticket).commit())
        .catch(() => {});
      throw error;
    }
  }

  /** Whether a live ticket older than `id` waits for the lock. */
  async #olderWaiter(ns: string, id: string): Promise<boolean> {
    const waiters = this.#layout.waiters(ns);
    const now = Date.now();
    const older = await listAll(this.#kv, { prefix: waiters, end: [...waiters, id] });
    return older.some((e) => Number(text(e.value as Uint8Array)) > now);
  }

  /**
   * Releases the lock held at head versionstamp `vs`; false if it is not held
   * any more. A cleanup (kvCleanup): a lock left held would stop every writer
   * of the namespace for its lease.
   */
  async #release(ns: string, vs: string, seq: number, changed: boolean): Promise<boolean> {
    const head = this.#layout.head(ns);
    const result = await kvCleanup("unlock the namespace", () => {
      const atomic = this.#kv.atomic().check({ key: head, versionstamp: vs })
        .set(head, utf8(JSON.stringify({ seq })));
      if (changed) atomic.set(this.#layout.changed(ns), utf8(timeId()));
      return atomic.commit();
    });
    if (result.ok) this.#known.setHead(ns, result.versionstamp!);
    return result.ok;
  }

  /**
   * Applies a committed log while the head stays at `vs`, then releases the
   * lock. `cleanup`: this process just passed the commit point, so a transient
   * fault is retried a few times (kvCleanup) rather than leaving readers and
   * writers waiting out the lease for another process to roll it forward.
   */
  async #apply(
    ns: string,
    id: string,
    ops: Op[],
    vs: string,
    seq: number,
    cleanup = false,
  ): Promise<void> {
    const write = () => this.#write(ns, id, ops, vs);
    const done = cleanup ? await kvCleanup("apply a transaction", write) : await write();
    if (!done) return; // another process finished it
    if (await this.#release(ns, vs, seq, true)) await this.#deleteLog(ns, id);
  }

  /** Writes a committed log's changes; false if the head moved (another process finished it). */
  async #write(ns: string, id: string, ops: Op[], vs: string): Promise<boolean> {
    const area = this.#layout.live(ns);
    const writer = new BatchWriter(
      this.#kv,
      [{ key: this.#layout.head(ns), versionstamp: vs }],
      "apply a transaction",
    );
    for (let i = 0; i < ops.length; i += 500) {
      const batch = ops.slice(i, i + 500);
      const keyed = batch.filter((op): op is Extract<Op, { t: "set" | "del" }> =>
        op.t === "set" || op.t === "del"
      );
      const old = await getAll(this.#kv, keyed.map((op) => recordKey(area, op.key)));
      let at = 0;
      for (const op of batch) {
        if (op.t === "clear") {
          await this.#clearAll(ns, id, writer);
          continue;
        }
        if (op.t === "req") {
          await writer.set(this.#layout.request(ns, op.id), utf8(String(op.at)));
          continue;
        }
        if (op.t === "lineage") {
          const key = this.#layout.lineage(ns);
          if (op.head === null) await writer.delete(key);
          else await writer.set(key, utf8(JSON.stringify(op.head)));
          continue;
        }
        const before = decodeRecord(old[at++]!, op.key);
        if (op.t === "set") {
          await writer.set(
            recordKey(area, op.key),
            encodeRecord(op.meta, op.inline),
            expireIn(op.meta),
            (vs) => this.#known.setRecord(ns, op.key, { meta: op.meta, inline: null, vs }),
          );
          if (before && before.meta.b !== op.meta.b) {
            await deleteBlob(writer, area, op.key, before.meta);
          }
        } else {
          await writer.delete(
            recordKey(area, op.key),
            () => this.#known.setRecord(ns, op.key, null),
          );
          if (before) await deleteBlob(writer, area, op.key, before.meta);
        }
      }
    }
    return await writer.flush();
  }

  /** Queues deletion of everything in the namespace but its head, change key and this log. */
  async #clearAll(ns: string, id: string, writer: BatchWriter): Promise<void> {
    const keep = [this.#layout.head(ns), this.#layout.changed(ns)].map((k) => JSON.stringify(k));
    const log = this.#layout.txn(ns, id);
    for (const entry of await listAll(this.#kv, { prefix: this.#layout.ns(ns) })) {
      const key = entry.key as KvKey;
      // Waiting processes and the record of request ids outlive a clear.
      if (keep.includes(JSON.stringify(key)) || key[2] === "waiters" || key[2] === "requests") {
        continue;
      }
      if (key.length === log.length + 1 && log.every((part, i) => key[i] === part)) continue;
      await writer.delete(key);
    }
  }

  /** Deletes a finished or aborted transaction's log (a cleanup: see kvCleanup). */
  async #deleteLog(ns: string, id: string): Promise<void> {
    await kvCleanup("delete a redo log", async () => {
      const writer = new BatchWriter(this.#kv, [], "delete a redo log");
      for (const entry of await listAll(this.#kv, { prefix: this.#layout.txn(ns, id) })) {
        await writer.delete(entry.key as KvKey);
      }
      await writer.flush();
    });
  }
}

/** Decodes the head key's entry. */
export function decodeHead(entry: KvEntry): HeadState {
  const { value, versionstamp: vs } = entry;
  if (vs === null || !(value instanceof Uint8Array)) return { lock: null, seq: 0, vs };
  const head = JSON.parse(text(value)) as { lock?: Lock; seq?: number };
  return { lock: head.lock ?? null, seq: head.seq ?? 0, vs };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The error of a transaction whose lock was taken over. */
export function lostLock(ns: string): BackendError {
  return contention(
    `Deno KV transaction in namespace ${
      JSON.stringify(ns)
    } lost its lock (its lease ran out and another process took over): retrying`,
  );
}
