// Commits of the Deno KV backend. A commit that fits Deno KV's limits is one
// KV commit with a check on the namespace head (so none lands during a
// namespace transaction) and on the checked keys' versionstamps; a larger one
// runs as a namespace transaction (see _kv_txn.ts). Values over 64,000 bytes
// are written first as chunks under a fresh blob id, invisible until the
// record that names them lands.
import { contention } from "./_errors_kv.ts";

import type { CommitOp, CommitResult } from "../types.ts";
import type { KvAtomic, KvKey } from "./_kv_platform.ts";
import {
  BatchWriter,
  blobKey,
  decodeRecord,
  deleteBlob,
  encodeRecord,
  expired,
  expireIn,
  getAll,
  keySize,
  kvCall,
  type KvRecord,
  LIMITS,
  type Meta,
  type NewRecord,
  recordKey,
  sleep,
  utf8,
  writeBlob,
} from "./_kv_store.ts";
import { afterRecord, applied } from "./_kv_requests.ts";
import { decodeHead, type HeadState, lostLock, type Op, type TxnContext } from "./_kv_txn.ts";

type Written = Map<string, { meta: Meta; inline: string | null }>;

/** Applies a commit atomically, in one Deno KV commit when it fits. */
export async function commit(ctx: TxnContext, ns: string, op: CommitOp): Promise<CommitResult> {
  const sets: NewRecord[] = op.sets.map((s) => ({
    key: s.key,
    meta: { v: op.version, x: s.expiresAt },
    value: s.value,
  }));
  const payload = onePayload(ctx, ns, op, sets);
  const result = payload === null
    ? await commitLarge(ctx, ns, op, sets)
    : await commitSmall(ctx, ns, op, sets, payload);
  if (result.ok) await afterRecord(ctx, ns);
  return result;
}

/** The payload of the commit as one Deno KV commit, or null when it does not fit. */
function onePayload(ctx: TxnContext, ns: string, op: CommitOp, sets: NewRecord[]): number | null {
  // One check and one write each go to the head, the change key and the request id.
  if (op.checks.length > LIMITS.checks - 2) return null;
  if (op.sets.length + op.deletes.length + 2 > LIMITS.mutations - 1) return null;
  const area = ctx.layout.live(ns);
  const changed = keySize(ctx.layout.changed(ns));
  const request = keySize(ctx.layout.request(ns, op.id));
  let payload = keySize(ctx.layout.head(ns)) + 2 * changed + 3 * request + 60;
  let keyBytes = changed;
  for (const c of op.checks) payload += keySize(recordKey(area, c.key));
  for (const key of op.deletes) payload += keySize(recordKey(area, key));
  for (const s of sets) {
    const size = keySize(recordKey(area, s.key));
    const bytes = utf8(s.value).length;
    payload += 2 * size + 200 + (bytes <= LIMITS.chunk ? bytes : 0);
    keyBytes += size;
  }
  return payload <= LIMITS.payload && keyBytes <= LIMITS.keyBytes ? payload : null;
}

async function writeValues(
  ctx: TxnContext,
  ns: string,
  sets: NewRecord[],
  headVs: string | null,
): Promise<Written | null> {
  const writer = new BatchWriter(
    ctx.kv,
    [{ key: ctx.layout.head(ns), versionstamp: headVs }],
    "write a large value",
  );
  const written: Written = new Map();
  for (const s of sets) written.set(s.key, await writeBlob(writer, ctx.layout.live(ns), s));
  return await writer.flush() ? written : null;
}

/** Deletes chunks written for a commit that did not land (best effort). */
async function discard(ctx: TxnContext, ns: string, written: Written | null): Promise<void> {
  if (written === null) return;
  const writer = new BatchWriter(ctx.kv, [], "delete unused chunks");
  for (const [key, r] of written) await deleteBlob(writer, ctx.layout.live(ns), key, r.meta);
  await writer.flush().catch(() => false);
}

function checkFails(op: CommitOp, recs: Map<string, KvRecord | null>): boolean {
  const now = Date.now();
  return op.checks.some((c) => {
    const rec = recs.get(c.key) ?? null;
    return (rec && !expired(rec.meta, now) ? rec.meta.v : null) !== c.version;
  });
}

async function commitSmall(
  ctx: TxnContext,
  ns: string,
  op: CommitOp,
  sets: NewRecord[],
  payload: number,
): Promise<CommitResult> {
  const area = ctx.layout.live(ns);
  const head = ctx.layout.head(ns);
  const request = ctx.layout.request(ns, op.id);
  const checked = op.checks.map((c) => c.key);
  const touched = [...new Set([...checked, ...op.sets.map((s) => s.key), ...op.deletes])];
  const replaced = new Set([...op.sets.map((s) => s.key), ...op.deletes]);
  let written: Written | null = null;
  let writtenAt: string | null | undefined;
  const started = Date.now();
  for (let attempt = 0; attempt < 500; attempt++) {
    if (attempt > 1) await sleep(Math.random() * Math.min(20, attempt));
    // First try: what this process last saw of the head and the records, if
    // it knows all of them, checked in the commit instead of read (_kv_known.ts).
    const guess = attempt === 0 ? guessed(ctx, ns, touched) : null;
    let recs: Map<string, KvRecord | null>;
    let state: HeadState;
    if (guess !== null) ({ recs, state } = guess);
    else {
      // The records this commit touches, each batch read with the head.
      // The request id is read with them: no extra round trip.
      recs = new Map<string, KvRecord | null>();
      const heads: HeadState[] = [];
      let seen = false;
      for (let i = 0; i < touched.length || i === 0; i += LIMITS.getMany - 2) {
        const batch = touched.slice(i, i + LIMITS.getMany - 2);
        const [h, r, ...entries] = await kvCall(
          "read keys",
          () => ctx.kv.getMany([head, request, ...batch.map((k) => recordKey(area, k))]),
        );
        heads.push(decodeHead(h!));
        seen ||= r!.versionstamp !== null;
        entries.forEach((e, j) => {
          const rec = decodeRecord(e, batch[j]!);
          recs.set(batch[j]!, rec);
          ctx.known.setRecord(ns, batch[j]!, rec);
        });
      }
      if (seen) {
        await discard(ctx, ns, written);
        return { ok: true, version: op.version };
      }
      state = heads[0]!;
      if (heads.some((h) => h.vs !== state.vs)) continue; // a transaction moved the head: read again
      if (state.lock === null) ctx.known.setHead(ns, state.vs);
    }
    if (state.lock !== null) {
      // A namespace transaction holds the lock: wait a little, then queue for it like them.
      if (await ctx.txns.free(ns, started + 200) !== null) continue;
      await discard(ctx, ns, written);
      return await commitLarge(ctx, ns, op, sets);
    }
    if (written === null || writtenAt !== state.vs) {
      // A namespace transaction (clear, restore) may have removed chunks written before it.
      await discard(ctx, ns, written);
      written = await writeValues(ctx, ns, sets, state.vs);
      writtenAt = state.vs;
      if (written === null) continue;
    }
    if (checkFails(op, recs)) {
      if (guess !== null) continue; // decided on what is read, never on a guess
      await discard(ctx, ns, written);
      return { ok: false };
    }
    // Check the head, the checked keys, then as many replaced keys as the
    // limit allows (so their old chunks are known exactly).
    const checks: { key: KvKey; versionstamp: string | null }[] = [
      { key: head, versionstamp: state.vs },
      { key: request, versionstamp: null },
    ];
    for (const key of [...checked, ...touched.filter((k) => !checked.includes(k))]) {
      if (checks.length >= LIMITS.checks) break;
      checks.push({ key: recordKey(area, key), versionstamp: recs.get(key)?.vs ?? null });
    }
    const mutate: ((a: KvAtomic) => void)[] = [];
    for (const key of op.deletes) mutate.push((a) => a.delete(recordKey(area, key)));
    for (const s of sets) {
      const r = written.get(s.key)!;
      const value = encodeRecord(r.meta, r.inline);
      mutate.push((a) => a.set(recordKey(area, s.key), value, expireIn(r.meta)));
    }
    mutate.push((a) => a.set(ctx.layout.changed(ns), utf8(op.version)));
    mutate.push((a) => a.set(request, utf8(String(Date.now()))));
    // Chunks of replaced values go in the same commit when they fit, else right after.
    let mutations = op.sets.length + op.deletes.length + 2;
    let bytes = payload;
    const later: { key: string; meta: Meta }[] = [];
    for (const key of replaced) {
      const old = recs.get(key)?.meta;
      if (old?.b === undefined || old.b === written.get(key)?.meta.b) continue;
      const n = old.n ?? 0;
      const size = n * (keySize(recordKey(area, key)) + 40);
      if (mutations + n < LIMITS.mutations && bytes + size < LIMITS.payload) {
        const prefix = blobKey(area, key, old.b);
        for (let i = 0; i < n; i++) mutate.push((a) => a.delete([...prefix, i]));
        mutations += n;
        bytes += size;
      } else later.push({ key, meta: old });
    }
    const tick = ctx.clock?.read() ?? null;
    const result = await kvCall("write", () => {
      const atomic = ctx.kv.atomic().check(...checks);
      for (const m of mutate) m(atomic);
      return atomic.commit();
    });
    if (!result.ok) continue; // a guess went stale, or another writer won: read and try again
    ctx.clock?.committed(tick); // the clock must have moved, or it is not trusted
    for (const key of op.deletes) ctx.known.setRecord(ns, key, null);
    for (const s of sets) {
      ctx.known.setRecord(ns, s.key, {
        meta: written.get(s.key)!.meta,
        inline: null,
        vs: result.versionstamp!,
      });
    }

    if (later.length > 0) {
      const writer = new BatchWriter(ctx.kv, [], "delete replaced chunks");
      for (const { key, meta } of later) await deleteBlob(writer, area, key, meta);
      await writer.flush().catch(() => false);
    }
    return { ok: true, version: op.version };
  }
  await discard(ctx, ns, written);
  throw contention(
    `Deno KV write in namespace ${
      JSON.stringify(ns)
    } lost 500 races with other writers: retry later`,
  );
}

/**
 * The head and the touched records as this process last saw them, when it
 * knows all of them and the commit can check every one (so each guess is
 * verified by the commit); else null.
 */
function guessed(
  ctx: TxnContext,
  ns: string,
  touched: string[],
): { recs: Map<string, KvRecord | null>; state: HeadState } | null {
  const vs = ctx.known.head(ns);
  if (vs === undefined || touched.length > LIMITS.checks - 2) return null;
  const recs = new Map<string, KvRecord | null>();
  for (const key of touched) {
    const rec = ctx.known.record(ns, key);
    if (rec === undefined) return null;
    recs.set(key, rec);
  }
  return { recs, state: { lock: null, seq: 0, vs } };
}

/** A commit too large for one Deno KV commit: a namespace transaction. */
function commitLarge(
  ctx: TxnContext,
  ns: string,
  op: CommitOp,
  sets: NewRecord[],
): Promise<CommitResult> {
  const area = ctx.layout.live(ns);
  return ctx.txns.run<CommitResult>(ns, async (vs) => {
    if (await applied(ctx, ns, op.id)) return { result: { ok: true, version: op.version } };
    const written = await writeValues(ctx, ns, sets, vs);
    if (written === null) throw lostLock(ns);
    const entries = await getAll(ctx.kv, op.checks.map((c) => recordKey(area, c.key)));
    const recs = new Map(op.checks.map((c, i) => [c.key, decodeRecord(entries[i]!, c.key)]));
    if (checkFails(op, recs)) {
      await discard(ctx, ns, written);
      return { result: { ok: false } };
    }
    const ops: Op[] = op.deletes.map((key) => ({ t: "del", key }));
    for (const [key, r] of written) ops.push({ t: "set", key, meta: r.meta, inline: r.inline });
    ops.push({ t: "req", id: op.id, at: Date.now() });
    return { result: { ok: true, version: op.version }, ops };
  });
}
