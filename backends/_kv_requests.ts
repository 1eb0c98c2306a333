// The record of applied request ids of the Deno KV backend (see Backend in
// types.ts): one key per id, [root, ns, "requests", id] -> the time it was
// applied, written in the same Deno KV commit (or namespace transaction) as
// the change. Old ids are pruned now and then, outside the hot path.
import { REQUEST_WINDOW } from "../types.ts";
import type { KvKey } from "./_kv_platform.ts";
import { BatchWriter, getAll, listAll, text } from "./_kv_store.ts";
import type { TxnContext } from "./_kv_txn.ts";

/** Whether a request id is recorded. */
export async function applied(ctx: TxnContext, ns: string, id: string): Promise<boolean> {
  const [entry] = await getAll(ctx.kv, [ctx.layout.request(ns, id)]);
  return entry!.versionstamp !== null;
}

/** After an id was recorded: every 256th time, prunes the namespace's ids past the window. */
export async function afterRecord(ctx: TxnContext, ns: string): Promise<void> {
  if (++ctx.recorded % 256 !== 0) return;
  const all = await listAll(ctx.kv, { prefix: ctx.layout.requests(ns) });
  if (all.length <= REQUEST_WINDOW.count) return;
  const byAge = all
    .map((e) => ({ key: e.key as KvKey, at: Number(text(e.value as Uint8Array)) }))
    .sort((a, b) => a.at - b.at);
  const cutoff = Date.now() - REQUEST_WINDOW.ms;
  const writer = new BatchWriter(ctx.kv, [], "prune request ids");
  for (const { key, at } of byAge.slice(0, byAge.length - REQUEST_WINDOW.count)) {
    if (at >= cutoff) break;
    await writer.delete(key);
  }
  await writer.flush();
}
