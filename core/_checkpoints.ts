// Checkpoint operations on top of the backend contract: naming, overwrite
// rules, retention and diffs, identical on every backend.
import { autoCheckpointName, newVersion } from "./_ids.ts";
import { validateCheckpointName, validateMetadata } from "./_validate.ts";
import { CheckpointNotFoundError, ValidationError } from "../errors.ts";
import { compareKeys } from "./_keys.ts";
import { KEEP_PREFIX } from "./_step_records.ts";
import type { Backend, StoredEntry } from "../types.ts";
import type {
  CheckpointDiff,
  CheckpointOptions,
  OpenOptions,
  RestoreCheckpointOptions,
} from "../options.ts";

/** What the checkpoint functions need from the manager. */
export interface Context {
  backend: Backend;
  namespace: string;
  options: OpenOptions;
  call<T>(fn: () => Promise<T>): Promise<T>;
}

/** Takes a checkpoint and applies retention; returns its name. */
export async function take(
  ctx: Context,
  name: string | undefined,
  options: CheckpointOptions,
): Promise<string> {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("checkpoint() options must be an object");
  }
  const auto = name === undefined;
  const createdAt = Date.now();
  const chosen = name === undefined ? autoCheckpointName(createdAt) : name;
  validateCheckpointName(chosen);
  const metadata = options.metadata ?? {};
  validateMetadata(metadata);
  const overwrite = options.overwrite ?? false;
  if (typeof overwrite !== "boolean") {
    throw new ValidationError("checkpoint() overwrite must be a boolean");
  }
  const request = {
    name: chosen,
    createdAt,
    auto,
    metadata: structuredClone(metadata),
    overwrite,
    id: newVersion(),
  };
  await ctx.call(() => ctx.backend.checkpoint(ctx.namespace, request));
  await prune(ctx);
  return chosen;
}

/**
 * Restores a checkpoint or throws CheckpointNotFoundError. Every restore keeps
 * the step records under KEEP_PREFIX live (leases, attempt counts), besides
 * the caller's `keep.prefix`: rolling a lease back while its step runs would
 * let a second runner in.
 */
export async function restore(
  ctx: Context,
  name: string,
  options: RestoreCheckpointOptions,
): Promise<void> {
  validateCheckpointName(name);
  const keep = options?.keep;
  if (
    typeof options !== "object" || options === null ||
    (keep !== undefined && (typeof keep !== "object" || typeof keep?.prefix !== "string"))
  ) {
    throw new ValidationError(
      "restoreCheckpoint() options must be an object; keep must be { prefix: string }",
    );
  }
  const prefixes = keep === undefined || keep.prefix === KEEP_PREFIX
    ? [KEEP_PREFIX]
    : [KEEP_PREFIX, keep.prefix];
  const request = { id: newVersion(), keep: { prefixes } };
  const found = await ctx.call(() => ctx.backend.restore(ctx.namespace, name, request));
  if (!found) throw new CheckpointNotFoundError(ctx.namespace, name, "restore");
}

/** Deletes a checkpoint or throws CheckpointNotFoundError. */
export async function remove(ctx: Context, name: string): Promise<void> {
  validateCheckpointName(name);
  const id = newVersion();
  const found = await ctx.call(() => ctx.backend.deleteCheckpoint(ctx.namespace, name, { id }));
  if (!found) throw new CheckpointNotFoundError(ctx.namespace, name, "delete");
}

/** Deletes checkpoints beyond the retention settings; returns their names. */
export async function prune(ctx: Context): Promise<string[]> {
  const { keepCheckpoints, maxCheckpointAgeMs, pruneNamedCheckpoints } = ctx.options;
  if (keepCheckpoints === undefined && maxCheckpointAgeMs === undefined) return [];
  const all = await ctx.call(() => ctx.backend.listCheckpoints(ctx.namespace));
  const candidates = all.filter((c) => c.auto || pruneNamedCheckpoints === true);
  const now = Date.now();
  const doomed = candidates.filter((c, i) =>
    (keepCheckpoints !== undefined && i >= keepCheckpoints) ||
    (maxCheckpointAgeMs !== undefined && now - c.createdAt > maxCheckpointAgeMs)
  );
  for (const c of doomed) {
    const id = newVersion();
    await ctx.call(() => ctx.backend.deleteCheckpoint(ctx.namespace, c.name, { id }));
  }
  return doomed.map((c) => c.name);
}

/** Keys added, removed and changed from checkpoint `from` to `to` (or now). */
export async function diff(
  ctx: Context,
  from: string,
  to: string | undefined,
): Promise<CheckpointDiff> {
  const before = await readCheckpoint(ctx, from);
  const after = to === undefined ? await currentEntries(ctx) : await readCheckpoint(ctx, to);
  const old = new Map(before.map((e) => [e.key, e.value]));
  const result: CheckpointDiff = { added: [], removed: [], changed: [] };
  for (const entry of after) {
    const value = old.get(entry.key);
    if (value === undefined) result.added.push(entry.key);
    else if (value !== entry.value) result.changed.push(entry.key);
    old.delete(entry.key);
  }
  result.removed = [...old.keys()];
  for (const list of Object.values(result)) list.sort(compareKeys);
  return result;
}

async function readCheckpoint(ctx: Context, name: string): Promise<StoredEntry[]> {
  validateCheckpointName(name);
  const entries = await ctx.call(() => ctx.backend.readCheckpoint(ctx.namespace, name));
  if (!entries) throw new CheckpointNotFoundError(ctx.namespace, name, "read");
  const now = Date.now();
  return entries.filter((e) => e.expiresAt === null || e.expiresAt > now);
}

/** Every live entry of the namespace, read page by page. */
export async function currentEntries(ctx: Context): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.call(() =>
      ctx.backend.list(ctx.namespace, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) })
    );
    const entries = await ctx.call(() => ctx.backend.get(ctx.namespace, page.keys));
    for (const e of entries) if (e) out.push(e);
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}
