// Where a namespace stands: its head, what changed since the head's
// checkpoint, and whether the newest checkpoint lies off the head's line.
import { compareKeys } from "./_keys.ts";
import { abandoned, newestOf } from "./_lineage.ts";
import { type Context, currentEntries } from "./_checkpoints.ts";
import type { CheckpointDiff, Status } from "../options.ts";
import type { StoredEntry } from "../types.ts";

/** Reads the namespace's status (see `StateManager.status()`). */
export async function status(ctx: Context): Promise<Status> {
  const { backend, namespace } = ctx;
  const [head, infos, live] = await Promise.all([
    ctx.call(() => backend.head(namespace)),
    ctx.call(() => backend.listCheckpoints(namespace)),
    currentEntries(ctx),
  ]);
  const base = head === null
    ? []
    : await ctx.call(() => backend.readCheckpoint(namespace, head.name)) ?? [];
  return {
    namespace,
    backend: backend.name,
    keyCount: live.length,
    head,
    changes: changes(base, live, Date.now()),
    newest: newestOf(infos),
    abandoned: abandoned(infos, head),
  };
}

/** Keys added, removed and changed from `before` (a checkpoint's entries) to `after`. */
function changes(before: StoredEntry[], after: StoredEntry[], now: number): CheckpointDiff {
  const old = new Map(
    before.filter((e) => e.expiresAt === null || e.expiresAt > now).map((e) => [e.key, e.value]),
  );
  const out: CheckpointDiff = { added: [], removed: [], changed: [] };
  for (const e of after) {
    const value = old.get(e.key);
    if (value === undefined) out.added.push(e.key);
    else if (value !== e.value) out.changed.push(e.key);
    old.delete(e.key);
  }
  out.removed = [...old.keys()];
  for (const list of Object.values(out)) list.sort(compareKeys);
  return out;
}
