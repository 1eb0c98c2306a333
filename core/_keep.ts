// A phase's rollback: a restore (which, like every restore, keeps the
// execution records under KEEP_PREFIX as they are: step attempt counts,
// failures, leases; see _checkpoints.ts), then the phase's failure record.
// It rolls the data back, never the history of how often a step ran, nor who
// runs one right now (a lease rolled back could let a second runner in).
import * as checkpoints from "./_checkpoints.ts";
import type { Engine } from "./_engine.ts";
import type { SetOp } from "../types.ts";

/**
 * Restores checkpoint `name` except the keys under KEEP_PREFIX, then commits
 * `also` (a phase's failure record). Throws CheckpointNotFoundError.
 */
export async function restoreKeeping(
  engine: Engine,
  name: string,
  also: SetOp[] = [],
): Promise<void> {
  await engine.uncached(() => checkpoints.restore(engine.context(), name, {}));
  if (also.length > 0) await engine.commit({ checks: [], sets: also, deletes: [] }, true);
}
