// recover() of the Deno KV backend: finishes or aborts transactions whose
// lease ran out, purges expired keys, and removes what crashed writers left:
// redo logs, chunks no record names, and checkpoint areas no checkpoint names.
import type { RecoveryReport } from "../types.ts";
import type { KvEntry, KvKey } from "./_kv_platform.ts";
import {
  BatchWriter,
  blobsOf,
  decodeRecord,
  deleteBlob,
  expired,
  kvCall,
  listAll,
  recordKey,
  recordsOf,
  text,
  timeOf,
} from "./_kv_store.ts";
import type { TxnContext } from "./_kv_txn.ts";

/** Left-overs younger than this may belong to a writer still at work. */
const GRACE_MS = 10 * 60_000;

/** Repairs one namespace; returns what it did. */
export async function recover(ctx: TxnContext, ns: string): Promise<RecoveryReport> {
  const actions: string[] = [];
  const before = await ctx.txns.head(ns);
  const after = await ctx.txns.settled(ns, false);
  if (before.lock !== null && before.lock.until <= Date.now() && after.vs !== before.vs) {
    actions.push(
      `${
        before.lock.committed ? "finished" : "aborted"
      } transaction ${before.lock.id} whose lease ran out`,
    );
  }
  const live = ctx.layout.live(ns);
  const now = Date.now();
  const head = { key: ctx.layout.head(ns), versionstamp: after.vs };

  // Expired keys (Deno KV purges them too, but lazily).
  let purged = 0;
  const records = new Map<string, string | undefined>();
  for (const entry of await listAll(ctx.kv, { prefix: recordsOf(live) })) {
    const key = entry.key[entry.key.length - 1] as string;
    const rec = decodeRecord(entry, key)!;
    records.set(key, rec.meta.b);
    if (!expired(rec.meta, now)) continue;
    const writer = new BatchWriter(ctx.kv, [head, {
      key: recordKey(live, key),
      versionstamp: rec.vs,
    }], "purge");
    await writer.delete(recordKey(live, key));
    await deleteBlob(writer, live, key, rec.meta);
    if (await writer.flush()) purged++;
  }
  if (purged > 0) actions.push(`purged ${purged} expired keys`);

  // Redo logs of transactions that are not running.
  const lock = after.lock;
  const logs = await deleteGroups(
    ctx,
    await listAll(ctx.kv, { prefix: ctx.layout.txns(ns) }),
    3,
    (id) => id !== lock?.id,
  );
  if (logs > 0) actions.push(`removed ${logs} abandoned redo logs`);

  // Chunks that no record names (a writer crashed between chunks and record).
  const blobs = await deleteGroups(
    ctx,
    await listAll(ctx.kv, { prefix: blobsOf(live) }),
    4,
    (id, key) => records.get(key[3] as string) !== id && now - timeOf(id) > GRACE_MS,
  );
  if (blobs > 0) actions.push(`removed ${blobs} unreferenced large-value chunk sets`);

  // Checkpoint areas that no checkpoint names.
  const named = new Set<string>();
  for (const e of await listAll(ctx.kv, { prefix: ctx.layout.checkpoints(ns) })) {
    named.add((JSON.parse(text(e.value as Uint8Array)) as { id: string }).id);
  }
  const areas = await deleteGroups(
    ctx,
    await listAll(ctx.kv, { prefix: ctx.layout.snapshots(ns) }),
    3,
    (id) => !named.has(id) && now - timeOf(id) > GRACE_MS,
  );
  if (areas > 0) actions.push(`removed ${areas} unreferenced checkpoint data sets`);
  return { actions, quarantined: [], ok: true };
}

/** Deletes the entries whose id (the key part at `at`) `doomed` picks; returns how many ids. */
async function deleteGroups(
  ctx: TxnContext,
  entries: KvEntry[],
  at: number,
  doomed: (id: string, key: readonly unknown[]) => boolean,
): Promise<number> {
  const ids = new Set<string>();
  const writer = new BatchWriter(ctx.kv, [], "remove left-overs");
  for (const entry of entries) {
    const id = String(entry.key[at]);
    if (!doomed(id, entry.key)) continue;
    ids.add(id);
    await writer.delete(entry.key as KvKey);
  }
  await kvCall("remove left-overs", () => writer.flush());
  return ids.size;
}
