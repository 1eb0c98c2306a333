// Reads of the Deno KV backend that must not see a transaction half
// applied: single keys, whole areas (the live keys or a checkpoint's).
import { contention } from "./_errors_kv.ts";
import { StateDamagedError } from "../errors.ts";
import type { StoredEntry } from "../types.ts";
import type { KvKey } from "./_kv_platform.ts";
import {
  decodeRecord,
  expired,
  getAll,
  kvCall,
  type KvRecord,
  LIMITS,
  listAll,
  readKvValue,
  recordKey,
  recordsOf,
} from "./_kv_store.ts";
import { decodeHead, type HeadState, type TxnContext } from "./_kv_txn.ts";

const expiredLock = (h: HeadState): boolean => h.lock !== null && h.lock.until <= Date.now();

/** A record of an area with its value text. */
export interface AreaEntry {
  /** The key. */
  key: string;
  /** The record. */
  rec: KvRecord;
  /** The value text. */
  value: string;
}

/**
 * Reads every record of an area with its value (of the live area, only the
 * unexpired ones); null if a value's chunks vanished meanwhile.
 */
export async function readArea(
  ctx: TxnContext,
  area: KvKey,
  live: boolean,
): Promise<AreaEntry[] | null> {
  const out: AreaEntry[] = [];
  const now = Date.now();
  for (const entry of await listAll(ctx.kv, { prefix: recordsOf(area) })) {
    const key = entry.key[entry.key.length - 1] as string;
    const rec = decodeRecord(entry, key)!;
    if (live && expired(rec.meta, now)) continue;
    const value = await readKvValue(ctx.kv, area, key, rec);
    if (value === null) return null;
    out.push({ key, rec, value });
  }
  return out;
}

/**
 * Runs `read` between two reads of the namespace head (and, with `changes`,
 * of its change key) and returns its result once both are unchanged: no
 * transaction (nor, with `changes`, any write) landed in between. Null after
 * `tries` attempts, or when `read` keeps returning null.
 */
export async function stable<T>(
  ctx: TxnContext,
  ns: string,
  read: () => Promise<T | null>,
  options: { changes?: boolean; tries?: number } = {},
): Promise<{ value: T; vs: string | null } | null> {
  const keys = [ctx.layout.head(ns), ctx.layout.changed(ns)];
  for (let attempt = 0; attempt < (options.tries ?? 100); attempt++) {
    await ctx.txns.settled(ns, false);
    const [h1, c1] = await getAll(ctx.kv, keys);
    const before = decodeHead(h1!);
    if (before.lock?.committed) continue;
    const value = await read();
    if (value === null) continue;
    const [h2, c2] = await getAll(ctx.kv, keys);
    const same = options.changes
      ? h2!.versionstamp === h1!.versionstamp && c2!.versionstamp === c1!.versionstamp
      : decodeHead(h2!).seq === before.seq;
    if (same) return { value, vs: h1!.versionstamp };
  }
  return null;
}

/**
 * Reads live keys, never a transaction half applied: between two equal
 * readings of the change clock at which the namespace held no committed
 * transaction, the records alone; else each batch of 9 with the head.
 */
export async function getEntries(
  ctx: TxnContext,
  ns: string,
  keys: string[],
): Promise<(StoredEntry | null)[]> {
  return await readUnlocked(ctx, ns, keys) ?? await readWithHead(ctx, ns, keys);
}

/** Reads keys between two equal clock readings known to be unlocked; null when that fails. */
async function readUnlocked(
  ctx: TxnContext,
  ns: string,
  keys: string[],
): Promise<(StoredEntry | null)[] | null> {
  const clock = ctx.clock;
  const tick = clock?.read() ?? null;
  if (tick === null || ctx.unlockedAt.get(ns) !== tick) return null;
  const area = ctx.layout.live(ns);
  const recordKeys = keys.map((k) => recordKey(area, k));
  const entries = recordKeys.length <= LIMITS.getMany
    ? await kvCall("read keys", () => ctx.kv.getMany(recordKeys))
    : await getAll(ctx.kv, recordKeys);
  const now = Date.now();
  const out: (StoredEntry | null)[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const rec = decodeRecord(entries[i]!, key);
    ctx.known.setRecord(ns, key, rec);
    if (rec === null || expired(rec.meta, now)) {
      out.push(null);
      continue;
    }
    const value = await readKvValue(ctx.kv, area, key, rec);
    if (value === null) return null; // replaced meanwhile
    out.push({ key, value, version: rec.meta.v, expiresAt: rec.meta.x });
  }
  return clock!.read() === tick ? out : null;
}

/** Reads live keys; each batch of 9 is read with the head, so a transaction is never seen half applied. */
async function readWithHead(
  ctx: TxnContext,
  ns: string,
  keys: string[],
): Promise<(StoredEntry | null)[]> {
  const area = ctx.layout.live(ns);
  const head = ctx.layout.head(ns);
  let missing = false;
  outer: for (let attempt = 0; attempt < 100; attempt++) {
    const tick = ctx.clock?.read() ?? null;
    // Keys change under a transaction only between its commit point (which
    // moves `seq`) and its release: the same seq without a committed lock in
    // every batch means no transaction was applied in between.
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += LIMITS.getMany - 1) {
      batches.push(keys.slice(i, i + LIMITS.getMany - 1));
    }
    const recs: (KvRecord | null)[] = [];
    const heads: HeadState[] = [];
    // A few batches in flight at once: Deno KV serves them in parallel.
    for (let i = 0; i < batches.length; i += 16) {
      const results = await Promise.all(
        batches.slice(i, i + 16).map((batch) =>
          kvCall("read keys", () => ctx.kv.getMany([head, ...batch.map((k) => recordKey(area, k))]))
            .then(([h, ...entries]) => {
              heads.push(decodeHead(h!));
              return entries.map((e, j) => decodeRecord(e, batch[j]!));
            })
        ),
      );
      for (const r of results) recs.push(...r);
    }
    const first = heads[0];
    const whole = first === undefined ||
      heads.every((h) => h.seq === first.seq && !h.lock?.committed && !expiredLock(h));
    if (!whole) {
      // Wait for the transaction to finish (or finish an abandoned one) and read again.
      await ctx.txns.settled(ns, false);
      continue;
    }
    missing = false;
    if (first !== undefined && first.lock === null) ctx.known.setHead(ns, first.vs);
    const now = Date.now();
    const out: (StoredEntry | null)[] = [];
    for (let i = 0; i < keys.length; i++) {
      const rec = recs[i]!;
      ctx.known.setRecord(ns, keys[i]!, rec);
      if (rec === null || expired(rec.meta, now)) {
        out.push(null);
        continue;
      }
      const value = await readKvValue(ctx.kv, area, keys[i]!, rec);
      if (value === null) {
        missing = true;
        continue outer; // replaced meanwhile: read again
      }
      out.push({ key: keys[i]!, value, version: rec.meta.v, expiresAt: rec.meta.x });
    }
    // Nothing committed while the heads were read, and none held a committed
    // transaction: reads at this clock reading need no head.
    if (tick !== null && heads.length > 0 && ctx.clock!.read() === tick) {
      ctx.unlockedAt.set(ns, tick);
    }
    return out;
  }
  const what = `Deno KV could not read ${keys.length} key(s) of namespace ${JSON.stringify(ns)}`;
  if (missing) {
    throw new StateDamagedError(
      `${what}: a large value's chunks are missing; restore a checkpoint or save the key again`,
    );
  }
  throw contention(`${what}: namespace transactions kept changing them; retry`);
}

/** Reads the head and change keys' versionstamps. */
export async function versionstamps(ctx: TxnContext, ns: string): Promise<(string | null)[]> {
  const entries = await getAll(ctx.kv, [ctx.layout.changed(ns), ctx.layout.head(ns)]);
  return entries.map((e) => e.versionstamp);
}
