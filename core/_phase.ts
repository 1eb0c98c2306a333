// Phases: steps that take a checkpoint when they start and when they end,
// and that roll back to the start checkpoint when they throw (keeping the
// records under KEEP_PREFIX, as every restore does: see _keep.ts), so a
// rollback never forgets how often a phase failed.
import * as checkpoints from "./_checkpoints.ts";
import type { Engine } from "./_engine.ts";
import type { StepWriter } from "./_step_writer.ts";
import { restoreKeeping } from "./_keep.ts";
import type { PhaseOptions, RunRecord } from "./_step_records.ts";
import { runStep, type StepHooks } from "./_steps.ts";
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
      await restoreKeeping(engine, run.checkpoint ?? start, [failed]);
    },
  };
  return runStep(engine, name, fn, stepOptions, undefined, hooks);
}
