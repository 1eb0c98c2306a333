// A phase's rollback: a restore that keeps the execution records under
// KEEP_PREFIX (step attempt counts, failures, leases) as they are. It rolls
// the data back, never the history of how often a step ran, nor who runs one
// right now (a lease rolled back could let a second runner in).
// `restoreCheckpoint()` restores everything: keeping the prefix there costs
// two listings per restore until the backends keep it atomically (contract).
import * as checkpoints from "./_checkpoints.ts";
import type { Engine } from "./_engine.ts";
import { KEEP_PREFIX } from "./_step_records.ts";
import { entriesUnder } from "./_steps.ts";
import type { SetOp } from "../types.ts";

/**
 * Restores checkpoint `name` except the keys under KEEP_PREFIX, then commits
 * `also` (a phase's failure record). Throws CheckpointNotFoundError.
 *
 * TODO(contract): once `restore(ns, name, { keep: { prefix } })` is on main,
 * restore with `keep: { prefix: KEEP_PREFIX }` (atomic) and commit `also`
 * after it. Until then the kept records are read before the restore and
 * written back after it: a crash between the two loses attempt counts and
 * leases (never user data or done records).
 */
export async function restoreKeeping(
  engine: Engine,
  name: string,
  also: SetOp[] = [],
): Promise<void> {
  const kept = await entriesUnder(engine, KEEP_PREFIX);
  await engine.uncached(() => checkpoints.restore(engine.context(), name));
  const keptKeys = new Set(kept.map((e) => e.key));
  const written = new Set(also.map((s) => s.key));
  const now = await entriesUnder(engine, KEEP_PREFIX);
  const sets = [
    ...kept.filter((e) => !written.has(e.key)).map(({ key, value, expiresAt }) => ({
      key,
      value,
      expiresAt,
    })),
    ...also,
  ];
  const deletes = now.filter((e) => !keptKeys.has(e.key) && !written.has(e.key)).map((e) => e.key);
  if (sets.length === 0 && deletes.length === 0) return;
  await engine.commit({ checks: [], sets, deletes }, true);
}
