// Phases: steps that take a checkpoint when they start and when they end,
// and that roll back to the start checkpoint when they throw, keeping the
// step records under KEEP_PREFIX (attempt counts, failures, leases) so a
// rollback never forgets how often a phase failed.
import * as checkpoints from "./_checkpoints.ts";
import type { Engine } from "./_engine.ts";
import type { StepWriter } from "./_step_writer.ts";
import { KEEP_PREFIX, type PhaseOptions, type RunRecord } from "./_step_records.ts";
import { entriesUnder, runStep, type StepHooks } from "./_steps.ts";
import { validateCheckpointName, validateMetadata } from "./_validate.ts";
import type { SetOp } from "../types.ts";

/** The checkpoint a phase takes when it starts. */
export function startCheckpointName(name: string): string {
  return `phase:${name}:start`;
}

/** The checkpoint a phase takes when it ends. */
export function endCheckpointName(name: string): string {
  return `phase:${name}`;
}

/** Runs phase `name` (see `StateManager.phase()`). */
export function runPhase<T>(
  engine: Engine,
  name: string,
  fn: (step: StepWriter) => T | Promise<T>,
  options: PhaseOptions,
): Promise<T> {
  const { metadata = {}, ...stepOptions } = options ?? {};
  validateMetadata(metadata);
  const start = startCheckpointName(name);
  const end = endCheckpointName(name);
  if (typeof name === "string") {
    validateCheckpointName(start);
    validateCheckpointName(end);
  }
  const ctx = engine.context();
  const hooks: StepHooks = {
    async begin(previous: RunRecord | null) {
      // A phase whose process died mid-run rolls back, if it fails now, to where it first started.
      if (previous?.status === "running" && previous.checkpoint) {
        return { checkpoint: previous.checkpoint };
      }
      await checkpoints.take(ctx, start, {
        metadata: { phase: name, at: "start" },
        overwrite: true,
      });
      return { checkpoint: start };
    },
    async done() {
      await checkpoints.take(ctx, end, {
        metadata: { ...structuredClone(metadata), phase: name },
        overwrite: true,
      });
    },
    async fail(failed: SetOp, run: RunRecord) {
      await rollback(engine, run.checkpoint ?? start, failed);
    },
  };
  return runStep(engine, name, fn, stepOptions, undefined, hooks);
}

/**
 * Restores `checkpoint` but keeps every key under KEEP_PREFIX as it is now,
 * and writes the failure record.
 *
 * TODO(contract): once `restoreCheckpoint(name, { keep: { prefix } })` is on
 * main, restore with `keep: { prefix: KEEP_PREFIX }` (atomic) and then commit
 * `failed`. Until then the kept records are read before the restore and
 * written back after it: a crash between the two loses attempt counts (never
 * user data or done records).
 */
async function rollback(engine: Engine, checkpoint: string, failed: SetOp): Promise<void> {
  const kept = await entriesUnder(engine, KEEP_PREFIX);
  await engine.uncached(() => checkpoints.restore(engine.context(), checkpoint));
  const keptKeys = new Set(kept.map((e) => e.key));
  const now = await entriesUnder(engine, KEEP_PREFIX);
  await engine.commit({
    checks: [],
    sets: [
      ...kept.filter((e) => e.key !== failed.key).map(({ key, value, expiresAt }) => ({
        key,
        value,
        expiresAt,
      })),
      failed,
    ],
    deletes: now.filter((e) => !keptKeys.has(e.key) && e.key !== failed.key).map((e) => e.key),
  }, true);
}
