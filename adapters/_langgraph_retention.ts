// Per-thread retention for the LangGraph saver: which checkpoints to prune
// (keep the newest N, drop those older than a maximum age; never the newest
// of a checkpoint namespace, so a thread stays resumable), and which stored
// channel values no kept checkpoint needs any more.
import type { AtomicOperation, StateManager } from "../mod.ts";
import { ValidationError } from "../mod.ts";
import { type Blob, isDelta } from "./_langgraph_codec.ts";
import {
  blobKey,
  checkpointKey,
  type CheckpointRecord,
  parts,
  prefix,
  type ThreadRecord,
  writesPrefix,
} from "./_langgraph_keys.ts";
import { listAll } from "./_langgraph_read.ts";

/** How much history the saver keeps per thread. Default: everything, forever. */
export interface RetentionOptions {
  /** Keep at most this many checkpoints per thread and checkpoint namespace (the newest). */
  keepLast?: number;
  /** Prune checkpoints older than this many ms (the newest is always kept). */
  maxAgeMs?: number;
  /**
   * Delete a thread this many ms after its last checkpoint was put (every
   * put refreshes it). An expired thread reads as absent at once; its data
   * is deleted by the next put to it or by `prune()`.
   */
  threadTtlMs?: number;
}

/** Values are swept once this many checkpoints of a namespace were pruned (and by prune()). */
export const SWEEP_EVERY = 8;

/** At most this many checkpoints are checked for age per put (prune() checks all). */
const AGE_CHECKS_PER_PUT = 8;

/** Throws unless the retention settings are positive integers. */
export function validateRetention(options: RetentionOptions): RetentionOptions {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("retention must be an object");
  }
  for (const name of ["keepLast", "maxAgeMs", "threadTtlMs"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ValidationError(`retention.${name} must be a positive integer, got ${value}`);
    }
  }
  return { ...options };
}

/** Whether a thread's TTL has run out. */
export function isExpired(
  record: ThreadRecord,
  options: RetentionOptions,
  now: number,
): boolean {
  return options.threadTtlMs !== undefined && record.at + options.threadTtlMs <= now;
}

/** What pruning one checkpoint namespace of a thread decided. */
export interface PrunePlan {
  /** Ids of the checkpoints to delete. */
  pruned: string[];
  /** Ids of the checkpoints that stay (the ones being written included). */
  kept: string[];
}

/**
 * Decides which checkpoints of `thread`/`ns` to prune. `adding` are ids
 * being written now (kept, as is the newest); `allAges` checks every
 * checkpoint's age instead of the oldest few.
 */
export async function planPrune(
  state: StateManager,
  thread: string,
  ns: string,
  adding: string[],
  options: RetentionOptions,
  now: number,
  allAges = false,
): Promise<PrunePlan> {
  const ids = (await listAll(state, prefix("c", thread, ns))).map((k) => parts(k)[2]!);
  for (const id of adding) if (!ids.includes(id)) ids.push(id);
  ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const protect = new Set([...adding, ids.at(-1)]);
  const pruned = new Set<string>();
  if (options.keepLast !== undefined) {
    for (const id of ids.slice(0, Math.max(0, ids.length - options.keepLast))) {
      if (!protect.has(id)) pruned.add(id);
    }
  }
  if (options.maxAgeMs !== undefined) {
    const candidates = ids.filter((id) => !pruned.has(id) && !protect.has(id));
    const checked = allAges ? candidates : candidates.slice(0, AGE_CHECKS_PER_PUT);
    const keys = checked.map((id) => checkpointKey(thread, ns, id));
    const records = await state.loadMany(keys) as unknown as Record<string, CheckpointRecord>;
    for (const [i, id] of checked.entries()) {
      const record = records[keys[i]!];
      if (record && record.at + options.maxAgeMs <= now) pruned.add(id);
      else if (!allAges) break; // puts come in time order: the rest are younger
    }
  }
  return { pruned: [...pruned], kept: ids.filter((id) => !pruned.has(id)) };
}

/** Adds the deletes of pruned checkpoints (and their pending writes) to `op`. */
export async function deletePruned(
  state: StateManager,
  op: AtomicOperation,
  thread: string,
  ns: string,
  pruned: string[],
): Promise<void> {
  for (const id of pruned) {
    op.delete(checkpointKey(thread, ns, id));
    for (const key of await listAll(state, writesPrefix(thread, ns, id))) op.delete(key);
  }
}

/**
 * Adds to `op` the deletes of stored values of `thread`/`ns` that none of
 * `kept` needs, directly or as a delta base. `versionsOf` gives a kept
 * checkpoint's channel versions (`adding` maps the ids being written now to
 * theirs); `pending` holds the values written by the same commit. Bases are
 * found by reading the needed values, one read per level of deltas.
 * Returns the deleted value keys.
 */
export async function sweepValues(
  state: StateManager,
  op: AtomicOperation,
  thread: string,
  ns: string,
  kept: string[],
  adding: Map<string, Record<string, string | number>>,
  pending: Map<string, Blob>,
  versionsOf: (record: CheckpointRecord) => Promise<Record<string, string | number>>,
): Promise<Set<string>> {
  const stored = kept.filter((id) => !adding.has(id));
  const keys = stored.map((id) => checkpointKey(thread, ns, id));
  const records = await state.loadMany(keys) as unknown as Record<string, CheckpointRecord>;
  const needed = new Set<string>();
  let level: string[] = [];
  const need = (channel: string, version: string) => {
    const key = blobKey(thread, ns, channel, version);
    if (!needed.has(key)) {
      needed.add(key);
      level.push(key);
    }
  };
  const want = (versions: Record<string, string | number>) => {
    for (const [channel, version] of Object.entries(versions)) need(channel, String(version));
  };
  for (const versions of adding.values()) want(versions);
  for (const key of keys) {
    const record = records[key];
    if (record) want(await versionsOf(record));
  }
  // A needed delta needs its base too.
  while (level.length > 0) {
    const batch = level;
    level = [];
    const unread = batch.filter((key) => !pending.has(key));
    const read = unread.length ? await state.loadMany(unread) as Record<string, Blob> : {};
    for (const key of batch) {
      const blob = pending.get(key) ?? read[key];
      if (blob && isDelta(blob)) need(parts(key)[2]!, blob.base);
    }
  }
  const deleted = new Set<string>();
  for (const key of await listAll(state, prefix("b", thread, ns))) {
    if (!needed.has(key)) {
      op.delete(key);
      deleted.add(key);
    }
  }
  return deleted;
}
