// Reads of the Deno KV backend that must not see a transaction half
// applied: single keys, whole areas (the live keys or a checkpoint's).
import { StateDamagedError } from "../errors.ts";
import type { StoredEntry } from "../types.ts";
import type { KvKey } from "./_kv_platform.ts";
import {
  decodeRecord,
  expired,
  getAll,
  kvCall,
  LIMITS,
  listAll,
  readValue,
  type Rec,
  recordKey,
  recordsOf,
} from "./_kv_store.ts";
import type { Ctx } from "./_kv_txn.ts";

/** A record of an area with its value text. */
export interface AreaEntry {
  /** The key. */
  key: string;
  /** The record. */
  rec: Rec;
  /** The value text. */
  value: string;
}

/** Reads every record of an area with its value; null if a value's chunks vanished meanwhile. */
export async function readArea(ctx: Ctx, area: KvKey): Promise<AreaEntry[] | null> {
  const out: AreaEntry[] = [];
  for (const entry of await listAll(ctx.kv, { prefix: recordsOf(area) })) {
    const key = entry.key[entry.key.length - 1] as string;
    const rec = decodeRecord(entry, key)!;
    const value = await readValue(ctx.kv, area, key, rec);
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
  ctx: Ctx,
  ns: string,
  read: () => Promise<T | null>,
  options: { changes?: boolean; tries?: number } = {},
): Promise<{ value: T; vs: string | null } | null> {
  const keys = [ctx.layout.head(ns), ctx.layout.changed(ns)];
  for (let attempt = 0; attempt < (options.tries ?? 100); attempt++) {
    const settled = await ctx.txns.settled(ns, false);
    const [h1, c1] = await getAll(ctx.kv, keys);
    if (h1!.versionstamp !== settled.vs) continue;
    const value = await read();
    if (value === null) continue;
    const [h2, c2] = await getAll(ctx.kv, keys);
    if (
      h2!.versionstamp === h1!.versionstamp &&
      (!options.changes || c2!.versionstamp === c1!.versionstamp)
    ) return { value, vs: h1!.versionstamp };
  }
  return null;
}

/** Reads live keys; each batch of 9 is read with the head, so a transaction is never seen half applied. */
export async function getEntries(
  ctx: Ctx,
  ns: string,
  keys: string[],
): Promise<(StoredEntry | null)[]> {
  const area = ctx.layout.live(ns);
  const head = ctx.layout.head(ns);
  outer: for (let attempt = 0; attempt < 100; attempt++) {
    const settled = await ctx.txns.settled(ns, false);
    const recs: (Rec | null)[] = [];
    for (let i = 0; i < keys.length; i += LIMITS.getMany - 1) {
      const batch = keys.slice(i, i + LIMITS.getMany - 1);
      const [h, ...entries] = await kvCall(
        "read keys",
        () => ctx.kv.getMany([head, ...batch.map((k) => recordKey(area, k))]),
      );
      if (h!.versionstamp !== settled.vs) continue outer;
      entries.forEach((e, j) => recs.push(decodeRecord(e, batch[j]!)));
    }
    const now = Date.now();
    const out: (StoredEntry | null)[] = [];
    for (let i = 0; i < keys.length; i++) {
      const rec = recs[i]!;
      if (rec === null || expired(rec.meta, now)) {
        out.push(null);
        continue;
      }
      const value = await readValue(ctx.kv, area, keys[i]!, rec);
      if (value === null) continue outer; // replaced meanwhile: read again
      out.push({ key: keys[i]!, value, version: rec.meta.v, expiresAt: rec.meta.x });
    }
    return out;
  }
  throw new StateDamagedError(
    `Deno KV could not read a consistent value of ${keys.length} key(s) in namespace ${
      JSON.stringify(ns)
    }: a large value's chunks are missing; run recover() or restore a checkpoint`,
  );
}

/** Reads the head and change keys' versionstamps. */
export async function versionstamps(ctx: Ctx, ns: string): Promise<(string | null)[]> {
  const entries = await getAll(ctx.kv, [ctx.layout.changed(ns), ctx.layout.head(ns)]);
  return entries.map((e) => e.versionstamp);
}
