// Reading what the LangGraph saver stored: channel values (following delta
// links), pending writes in LangGraph's order, and key listings.
import {
  type CheckpointPendingWrite,
  compareWritesSortKeys,
  type SerializerProtocol,
  writesSortKey,
} from "@langchain/langgraph-checkpoint";
import { StateDamagedError, type StateManager } from "../mod.ts";
import {
  applyDelta,
  type Blob,
  decode,
  type Delta,
  isDelta,
  MAX_DEPTH,
  type Typed,
} from "./_langgraph_codec.ts";
import { type CachedValue, slot } from "./_langgraph_cache.ts";
import { blobKey, type WriteRecord, writesPrefix } from "./_langgraph_keys.ts";

/** Keys per listing page. */
const PAGE = 1000;

/** Every key under `prefix`. */
export async function listAll(state: StateManager, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | null = null;
  do {
    const page: { keys: string[]; cursor: string | null } = await state.listKeys(
      cursor === null ? { prefix, limit: PAGE } : { prefix, limit: PAGE, cursor },
    );
    keys.push(...page.keys);
    cursor = page.cursor;
  } while (cursor !== null);
  return keys;
}

/** A stored value with the length of the delta chain that produced it. */
interface Resolved {
  typed: Typed;
  depth: number;
}

/** Resolved values by blob key, shared by the reads of one call (e.g. a whole `list()`). */
export type Memo = Map<string, Resolved | null>;

/**
 * The channel values of a checkpoint, given its channel versions. `known`
 * holds values already at hand (the cache); a channel whose value was
 * never stored (LangGraph stores only channels that changed) is left out.
 * Returns the values and what was read, as text, for the cache.
 */
export async function readValues(
  state: StateManager,
  serde: SerializerProtocol,
  thread: string,
  ns: string,
  versions: Record<string, string | number>,
  known: Map<string, CachedValue> | undefined,
  memo: Memo = new Map(),
): Promise<{ values: Record<string, unknown>; read: Map<string, CachedValue> }> {
  const wanted = Object.entries(versions).map(([channel, v]) => {
    const version = String(v);
    return { channel, version, key: blobKey(thread, ns, channel, version) };
  });
  for (const w of wanted) {
    const hit = known?.get(slot(ns, w.channel));
    if (hit && hit.version === w.version && !memo.has(w.key)) {
      memo.set(w.key, { typed: { t: hit.t, s: hit.text }, depth: hit.depth });
    }
  }
  await resolve(state, thread, ns, wanted, memo, 0);
  const values: Record<string, unknown> = {};
  const read = new Map<string, CachedValue>();
  await Promise.all(wanted.map(async (w) => {
    const found = memo.get(w.key);
    if (!found) return;
    values[w.channel] = await decode(serde, found.typed);
    if ("s" in found.typed) {
      read.set(slot(ns, w.channel), {
        version: w.version,
        t: found.typed.t,
        text: found.typed.s,
        depth: found.depth,
      });
    }
  }));
  return { values, read };
}

/** Fills `memo` for `wanted`, loading each level of delta bases in one read. */
async function resolve(
  state: StateManager,
  thread: string,
  ns: string,
  wanted: { channel: string; version: string; key: string }[],
  memo: Memo,
  level: number,
): Promise<void> {
  const missing = [...new Set(wanted.filter((w) => !memo.has(w.key)).map((w) => w.key))];
  if (missing.length === 0) return;
  if (level > MAX_DEPTH + 1) {
    throw new StateDamagedError(
      `LangGraph values of thread ${JSON.stringify(thread)}: a delta chain is longer than ` +
        `${MAX_DEPTH} (${missing[0]}); the stored data is damaged`,
    );
  }
  const loaded = await state.loadMany(missing) as Record<string, Blob>;
  const deltas: { channel: string; version: string; key: string; blob: Delta }[] = [];
  for (const w of wanted) {
    if (memo.has(w.key) || deltas.some((d) => d.key === w.key)) continue;
    const blob = loaded[w.key];
    if (!blob) memo.set(w.key, null);
    else if (isDelta(blob)) deltas.push({ ...w, blob });
    else memo.set(w.key, { typed: blob, depth: 0 });
  }
  if (deltas.length === 0) return;
  const bases = deltas.map((d) => ({
    channel: d.channel,
    version: d.blob.base,
    key: blobKey(thread, ns, d.channel, d.blob.base),
  }));
  await resolve(state, thread, ns, bases, memo, level + 1);
  for (const [i, d] of deltas.entries()) {
    const base = memo.get(bases[i]!.key);
    if (!base || !("s" in base.typed)) {
      throw new StateDamagedError(
        `LangGraph value ${d.key} is a delta of version ${
          JSON.stringify(d.blob.base)
        }, which is missing; the stored data is damaged`,
      );
    }
    memo.set(d.key, {
      typed: { t: d.blob.t, s: applyDelta(d.blob, base.typed.s) },
      depth: d.blob.depth,
    });
  }
}

/** A checkpoint's pending writes, in LangGraph's order (task path, task id, index). */
export async function readWrites(
  state: StateManager,
  serde: SerializerProtocol,
  thread: string,
  ns: string,
  id: string,
): Promise<CheckpointPendingWrite[]> {
  const keys = await listAll(state, writesPrefix(thread, ns, id));
  if (keys.length === 0) return [];
  const records = Object.values(await state.loadMany(keys)) as unknown as WriteRecord[];
  records.sort((a, b) =>
    compareWritesSortKeys(
      writesSortKey(a.path, a.task, a.idx),
      writesSortKey(b.path, b.task, b.idx),
    )
  );
  return await Promise.all(
    records.map(async (
      r,
    ): Promise<CheckpointPendingWrite> => [r.task, r.ch, await decode(serde, r)]),
  );
}
