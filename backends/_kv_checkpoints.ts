// Checkpoints of the Deno KV backend. A checkpoint is an info key
// [root, ns, "checkpoints", name] naming a snapshot area
// [root, ns, "snapshots", id] that holds copies of the records and chunks.
// The area is written first; the info key lands last, in one commit, so a
// checkpoint appears whole or not at all.
import { contention } from "./_errors_kv.ts";
import {
  type BackendError,
  CheckpointExistsError,
  StateDamagedError,
  ValidationError,
} from "../errors.ts";
import type { CheckpointInfo, CheckpointRequest, StoredEntry } from "../types.ts";
import { checkpointInfo, kept, newestFirst } from "./_shared.ts";
import { afterRecord } from "./_kv_requests.ts";
import type { KvKey } from "./_kv_platform.ts";
import { type AreaEntry, readArea, stable } from "./_kv_read.ts";
import {
  BatchWriter,
  encodeRecord,
  expired,
  getAll,
  kvCall,
  LIMITS,
  listAll,
  recordKey,
  recordsOf,
  text,
  timeId,
  utf8,
  writeBlob,
} from "./_kv_store.ts";
import { type LineageHead, lostLock, type Op, type TxnContext } from "./_kv_txn.ts";

/** A checkpoint's info key value: the public info plus its area id. */
type Stored = CheckpointInfo & { id: string };

const parse = (value: unknown): Stored => {
  const stored = JSON.parse(text(value as Uint8Array)) as Stored;
  stored.parent ??= null; // written before lineage
  return stored;
};

/** Takes an atomic snapshot of the namespace. */
export async function checkpoint(
  ctx: TxnContext,
  ns: string,
  request: CheckpointRequest,
): Promise<CheckpointInfo> {
  const infoKey = ctx.layout.checkpoint(ns, request.name);
  const [existing, seen] = await getAll(ctx.kv, [infoKey, ctx.layout.request(ns, request.id)]);
  if (seen!.versionstamp !== null) return existingInfo(existing!, request);
  if (existing!.versionstamp !== null && !request.overwrite) {
    throw new CheckpointExistsError(ns, request.name);
  }
  const live = ctx.layout.live(ns);
  // Optimistic first: read everything and keep it if nothing was written meanwhile.
  for (let attempt = 0; attempt < 3; attempt++) {
    const snap = await stable(ctx, ns, () => readArea(ctx, live, true), {
      changes: true,
      tries: 1,
    });
    if (snap === null) continue;
    const info = await publish(ctx, ns, request, snap.value, snap.vs, request.id);
    if (info !== null) {
      await afterRecord(ctx, ns);
      return info;
    }
  }
  // Writers keep winning: hold the namespace lock while reading.
  return await ctx.txns.run(ns, async (vs) => {
    const entries = await readArea(ctx, live, true);
    const info = entries && await publish(ctx, ns, request, entries, vs, request.id);
    if (info === null) throw lostLock(ns);
    return { result: info };
  });
}

/** The info of the checkpoint a recorded request took, as it is now. */
function existingInfo(
  entry: { value: unknown; versionstamp: string | null },
  request: CheckpointRequest,
): CheckpointInfo {
  if (entry.versionstamp === null) return checkpointInfo(request, []);
  const { id: _, ...info } = parse(entry.value);
  return info;
}

/**
 * Writes a checkpoint from given entries (migration and import): a new area,
 * then its info key in one commit, so it appears whole or not at all. The
 * live keys are not touched; a namespace transaction that runs meanwhile
 * (clear, restore) makes it start over.
 */
export async function importCheckpoint(
  ctx: TxnContext,
  ns: string,
  info: CheckpointInfo,
  entries: StoredEntry[],
): Promise<void> {
  const request = {
    name: info.name,
    createdAt: info.createdAt,
    auto: info.auto,
    metadata: info.metadata,
    overwrite: true,
    parent: info.parent,
  };
  const area: AreaEntry[] = entries.map((e) => ({
    key: e.key,
    rec: { meta: { v: e.version, x: e.expiresAt }, inline: null, vs: "" },
    value: e.value,
  }));
  for (let attempt = 0; attempt < 20; attempt++) {
    const head = await ctx.txns.settled(ns, false);
    if (await publish(ctx, ns, request, area, head.vs, null) !== null) return;
  }
  throw busy(ns, `import checkpoint ${JSON.stringify(info.name)}`);
}

/**
 * Writes a snapshot area, then its info key (checked against the head).
 * Taking a checkpoint (`id` not null) also records the request id and, in the
 * same commit, reads the lineage head as the parent and moves it to this
 * checkpoint; an import (`id` null) keeps `request.parent` and the head.
 * Null if the head moved.
 */
async function publish(
  ctx: TxnContext,
  ns: string,
  request: Omit<CheckpointRequest, "id"> & { parent?: string | null },
  entries: AreaEntry[],
  headVs: string | null,
  id: string | null,
): Promise<CheckpointInfo | null> {
  const now = Date.now();
  const kept = entries.filter((e) => !expired(e.rec.meta, now));
  const areaId = timeId();
  const record = (parent: string | null) => {
    const info = checkpointInfo({ ...request, parent }, kept);
    const value = utf8(JSON.stringify({ ...info, id: areaId } satisfies Stored));
    if (value.length > LIMITS.value) {
      throw new ValidationError(
        `Checkpoint ${JSON.stringify(request.name)} in namespace ${
          JSON.stringify(ns)
        }: its metadata makes the checkpoint record ${value.length} bytes, over the Deno KV backend's limit of ${LIMITS.value} (Deno KV values are at most 64 KiB): store less metadata`,
      );
    }
    return { info, value };
  };
  // The longest parent is as long as the longest name: checked before anything is written.
  record(request.parent ?? "x".repeat(Math.max(request.name.length, 256)));
  const area = ctx.layout.snapshot(ns, areaId);
  const writer = new BatchWriter(ctx.kv, [], "write a checkpoint");
  for (const e of kept) {
    const r = await writeBlob(writer, area, {
      key: e.key,
      meta: { v: e.rec.meta.v, x: e.rec.meta.x },
      value: e.value,
    }, true);
    await writer.set(recordKey(area, e.key), encodeRecord(r.meta, r.inline));
  }
  await writer.flush();
  const infoKey = ctx.layout.checkpoint(ns, request.name);
  const head = ctx.layout.head(ns);
  const requestKey = id === null ? null : ctx.layout.request(ns, id);
  const lineage = ctx.layout.lineage(ns);
  for (;;) {
    const [current, line, seen] = await getAll(
      ctx.kv,
      [infoKey, lineage, ...requestKey ? [requestKey] : []],
    );
    if (seen !== undefined && seen.versionstamp !== null) {
      await deleteArea(ctx, area);
      return existingInfo(current!, { ...request, id: id! });
    }
    if (current!.versionstamp !== null && !request.overwrite) {
      await deleteArea(ctx, area);
      throw new CheckpointExistsError(ns, request.name);
    }
    const parent = requestKey === null
      ? request.parent ?? null
      : line!.versionstamp === null
      ? null
      : (JSON.parse(text(line!.value as Uint8Array)) as LineageHead).name;
    const { info, value } = record(parent);
    const result = await kvCall("write a checkpoint", () => {
      const atomic = ctx.kv.atomic()
        .check({ key: head, versionstamp: headVs }, {
          key: infoKey,
          versionstamp: current!.versionstamp,
        })
        .set(infoKey, value);
      if (requestKey) {
        const moved: LineageHead = { name: request.name, via: "checkpoint", at: request.createdAt };
        atomic.check({ key: requestKey, versionstamp: null }, {
          key: lineage,
          versionstamp: line!.versionstamp,
        });
        atomic.set(requestKey, utf8(String(Date.now())));
        atomic.set(lineage, utf8(JSON.stringify(moved)));
      }
      return atomic.commit();
    });
    if (result.ok) {
      if (current!.versionstamp !== null) {
        await deleteArea(ctx, ctx.layout.snapshot(ns, parse(current!.value).id)).catch(() => {});
      }
      return info;
    }
    const [h] = await getAll(ctx.kv, [head]);
    if (h!.versionstamp !== headVs) {
      // A namespace transaction (clear, restore) ran: it may have removed the area. Start over.
      await deleteArea(ctx, area);
      return null;
    }
  }
}

/** Deletes every key of an area. */
async function deleteArea(ctx: TxnContext, area: KvKey): Promise<void> {
  const writer = new BatchWriter(ctx.kv, [], "delete checkpoint data");
  for (const entry of await listAll(ctx.kv, { prefix: area })) {
    await writer.delete(entry.key as KvKey);
  }
  await writer.flush();
}

/** Lists checkpoints, newest first. */
export async function listCheckpoints(ctx: TxnContext, ns: string): Promise<CheckpointInfo[]> {
  const snap = await stable(ctx, ns, () => listAll(ctx.kv, { prefix: ctx.layout.checkpoints(ns) }));
  if (snap === null) throw busy(ns, "list checkpoints");
  return snap.value.map((e) => {
    const { id: _, ...info } = parse(e.value);
    return info;
  }).sort(newestFirst);
}

/** Reads a checkpoint's entries, or null. */
export async function readCheckpoint(
  ctx: TxnContext,
  ns: string,
  name: string,
): Promise<StoredEntry[] | null> {
  const infoKey = ctx.layout.checkpoint(ns, name);
  for (let attempt = 0; attempt < 20; attempt++) {
    const [before] = await getAll(ctx.kv, [infoKey]);
    if (before!.versionstamp === null) return null;
    const entries = await readArea(ctx, ctx.layout.snapshot(ns, parse(before!.value).id), false);
    const [after] = await getAll(ctx.kv, [infoKey]);
    if (entries === null || after!.versionstamp !== before!.versionstamp) continue;
    return entries.map((e) => ({
      key: e.key,
      value: e.value,
      version: e.rec.meta.v,
      expiresAt: e.rec.meta.x,
    }));
  }
  throw new StateDamagedError(
    `Checkpoint ${JSON.stringify(name)} in namespace ${
      JSON.stringify(ns)
    } could not be read whole: its data is incomplete; delete it`,
  );
}

/**
 * Makes the namespace exactly the checkpoint, with fresh versions (the
 * request id), in one namespace transaction that also records the id.
 */
export async function restore(
  ctx: TxnContext,
  ns: string,
  name: string,
  id: string,
  keep: { prefixes: string[] } | undefined,
): Promise<boolean> {
  const infoKey = ctx.layout.checkpoint(ns, name);
  const requestKey = ctx.layout.request(ns, id);
  const live = ctx.layout.live(ns);
  const [exists, seen] = await getAll(ctx.kv, [infoKey, requestKey]);
  if (seen!.versionstamp !== null) return true;
  if (exists!.versionstamp === null) return false;
  const done = await ctx.txns.run(ns, async (vs) => {
    const [info, again] = await getAll(ctx.kv, [infoKey, requestKey]);
    if (again!.versionstamp !== null) return { result: true };
    if (info!.versionstamp === null) return { result: false };
    const entries = await readArea(ctx, ctx.layout.snapshot(ns, parse(info!.value).id), false);
    if (entries === null) throw busy(ns, `restore checkpoint ${JSON.stringify(name)}`);
    const current = new Set<string>();
    for (const e of await listAll(ctx.kv, { prefix: recordsOf(live) })) {
      current.add(e.key[e.key.length - 1] as string);
    }
    const writer = new BatchWriter(
      ctx.kv,
      [{ key: ctx.layout.head(ns), versionstamp: vs }],
      "restore",
    );
    const ops: Op[] = [];
    const now = Date.now();
    const restored = new Set<string>();
    for (const e of entries) {
      if (expired(e.rec.meta, now) || kept(e.key, keep)) continue;
      restored.add(e.key);
      // Every restored key gets the fresh version, so no version is ever reused.
      const r = await writeBlob(writer, live, {
        key: e.key,
        meta: { v: id, x: e.rec.meta.x },
        value: e.value,
      });
      ops.push({ t: "set", key: e.key, meta: r.meta, inline: r.inline });
    }
    for (const key of current) {
      if (!restored.has(key) && !kept(key, keep)) ops.push({ t: "del", key });
    }
    ops.push({ t: "req", id, at: Date.now() });
    ops.push({ t: "lineage", head: { name, via: "restore", at: Date.now() } });
    if (!await writer.flush()) throw lostLock(ns);
    return { result: true, ops, checks: [{ key: infoKey, versionstamp: info!.versionstamp }] };
  });
  if (done) await afterRecord(ctx, ns);
  return done;
}

/** Deletes a checkpoint: its info key first (one commit, with the request id), then its area. */
export async function deleteCheckpoint(
  ctx: TxnContext,
  ns: string,
  name: string,
  id: string,
): Promise<boolean> {
  const infoKey = ctx.layout.checkpoint(ns, name);
  const requestKey = ctx.layout.request(ns, id);
  for (;;) {
    const [info, seen] = await getAll(ctx.kv, [infoKey, requestKey]);
    if (seen!.versionstamp !== null) return true;
    if (info!.versionstamp === null) return false;
    const result = await kvCall(
      "delete a checkpoint",
      () =>
        ctx.kv.atomic()
          .check({ key: infoKey, versionstamp: info!.versionstamp })
          .check({ key: requestKey, versionstamp: null })
          .delete(infoKey)
          .set(requestKey, utf8(String(Date.now())))
          .commit(),
    );
    if (!result.ok) continue;
    await deleteArea(ctx, ctx.layout.snapshot(ns, parse(info!.value).id));
    await afterRecord(ctx, ns);
    return true;
  }
}

function busy(ns: string, what: string): BackendError {
  return contention(
    `Deno KV could not ${what} in namespace ${
      JSON.stringify(ns)
    }: other processes kept changing it; retry`,
  );
}

/** The namespace's lineage head, once no transaction is being applied. */
export async function readHead(ctx: TxnContext, ns: string): Promise<LineageHead | null> {
  const snap = await stable(
    ctx,
    ns,
    async () => (await getAll(ctx.kv, [ctx.layout.lineage(ns)]))[0],
  );
  if (snap === null) throw busy(ns, "read the head");
  const entry = snap.value!;
  return entry.versionstamp === null ? null : JSON.parse(text(entry.value as Uint8Array));
}

/** Sets (or removes) the lineage head as given. */
export async function importHead(
  ctx: TxnContext,
  ns: string,
  head: LineageHead | null,
): Promise<void> {
  await ctx.txns.run(
    ns,
    () => Promise.resolve({ result: undefined, ops: [{ t: "lineage", head }] }),
  );
}
