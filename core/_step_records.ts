// Where durable steps keep their records, and what the records hold. Step
// records are ordinary keys of the namespace under a reserved prefix, so
// migration, export/import, checkpoints and every backend carry them with no
// extra code. Users cannot write under the prefix (the engine refuses it), so
// a user key never collides with a record silently.
import { validateKey } from "./_validate.ts";
import { ValidationError } from "../errors.ts";
import type { JsonValue } from "../types.ts";

/** Every key starting with this belongs to the library; user writes under it are refused. */
export const RESERVED_PREFIX = "@ms/";
/** `@ms/step/<name>`: a step that finished, with its result; rolled back with checkpoints. */
export const DONE_PREFIX = "@ms/step/";
/**
 * Records kept across a phase's rollback (attempt counts, failures, leases):
 * a failed phase restores its start checkpoint except for these.
 */
export const KEEP_PREFIX = "@ms/keep/";
/** `@ms/keep/run/<name>`: a step's attempts and its last run (running, failed or done). */
export const RUN_PREFIX = "@ms/keep/run/";
/** `@ms/keep/lease/<name>`: who runs a step right now (with a TTL the runner renews). */
export const LEASE_PREFIX = "@ms/keep/lease/";

/** Longest step name, in UTF-8 bytes (room for the prefixes and phase checkpoint names). */
export const MAX_STEP_NAME_BYTES = 180;

/** Options of `StateManager.step()`. */
export interface StepOptions {
  /**
   * Run `fn` again when it throws: `attempts` in all (default 1), waiting
   * `backoff` ms before the first re-run and twice as long before each next
   * one (default 0).
   */
  retry?: { attempts?: number; backoff?: number };
  /**
   * Make sure only one process runs the step at a time: the runner holds a
   * lease (a key with a TTL it renews every third of `ttlMs`) while `fn`
   * runs. Another runner waits for it (or, with `wait: false`, throws
   * `ConflictError` at once) and then returns the recorded result. A lease
   * whose process died on this host is taken over at once; elsewhere it
   * lapses after `ttlMs` (default 30000).
   */
  lease?: LeaseOptions;
  /** Run `fn` even if the step is recorded as done, replacing its record. Default false. */
  always?: boolean;
}

/** How a step's lease behaves. */
export interface LeaseOptions {
  /** Lifetime of the lease in ms; the runner renews it every third of this. Default 30000. */
  ttlMs?: number;
  /** Wait for another runner's lease (default), or throw `ConflictError` at once. */
  wait?: boolean;
  /** Called once when this runner starts waiting, with the holder's process id and host. */
  onWait?: (holder: { pid: number; host: string }) => void;
}

/** Options of `StateManager.phase()`. */
export interface PhaseOptions extends StepOptions {
  /** Any JSON object stored with the checkpoint the phase takes when it ends. */
  metadata?: Record<string, JsonValue>;
}

/** Options of `StateManager.resetStep()`. */
export interface ResetStepOptions {
  /** Also forget every step that started after this one. Default false. */
  andLater?: boolean;
}

/** One step as `StateManager.steps()` lists it. */
export interface StepInfo {
  /** The step's name (nested steps: `build/compile`). */
  name: string;
  /**
   * `done`; `failed` (its last run threw); `running` (a run started and has
   * not ended: it is still going, or its process died); `pending` (it was
   * done, but a rollback undid it: it runs again).
   */
  status: "done" | "failed" | "running" | "pending";
  /** Runs started so far, failed and interrupted ones included; kept across rollbacks. */
  attempts: number;
  /** When the latest run started (ms since the epoch), or null. */
  startedAt: number | null;
  /** When it ended, or null while running. */
  endedAt: number | null;
  /** `endedAt - startedAt`, or null. */
  durationMs: number | null;
  /** The recorded result of a done step (absent when `fn` returned nothing). */
  result?: JsonValue;
  /** The error message of a failed run. */
  error?: string;
}

/** The stored record of a finished step. */
export interface DoneRecord {
  result?: JsonValue;
  attempts: number;
  startedAt: number;
  endedAt: number;
}

/** The stored record of a step's runs. */
export interface RunRecord {
  status: "running" | "failed" | "done";
  attempts: number;
  startedAt: number;
  endedAt?: number;
  error?: string;
  /** A phase's start checkpoint, reused when a crashed phase runs again. */
  checkpoint?: string;
}

/** Throws unless `name` is a valid step name. */
export function validateStepName(name: unknown): asserts name is string {
  validateKey(name, "Step name", MAX_STEP_NAME_BYTES);
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) {
    throw new ValidationError(
      `Step name ${JSON.stringify(name)} has an empty part: nested names look like "build/compile"`,
    );
  }
}

/** Throws ValidationError if a user write touches the reserved prefix. */
export function refuseReserved(key: string): void {
  if (key.startsWith(RESERVED_PREFIX)) {
    throw new ValidationError(
      `Key ${JSON.stringify(key)} is under ${
        JSON.stringify(RESERVED_PREFIX)
      }, which holds step records: pick another key (use resetStep() to forget a step)`,
    );
  }
}

/** Merges a step's done and run records into what `steps()` lists. */
export function stepInfo(
  name: string,
  done: DoneRecord | null,
  run: RunRecord | null,
): StepInfo {
  // A run newer than the done record (a forced re-run, or one that failed after a reset) wins.
  const useRun = run !== null && (done === null || run.startedAt > done.startedAt);
  // A run that ended done without a done record was rolled back by a restore.
  const status = useRun ? (run.status === "done" ? "pending" : run.status) : "done";
  const startedAt = useRun ? run.startedAt : done?.startedAt ?? null;
  const endedAt = useRun ? run.endedAt ?? null : done?.endedAt ?? null;
  const info: StepInfo = {
    name,
    status,
    attempts: Math.max(run?.attempts ?? 0, done?.attempts ?? 0),
    startedAt,
    endedAt,
    durationMs: startedAt !== null && endedAt !== null ? endedAt - startedAt : null,
  };
  if (status === "done" && done && done.result !== undefined) info.result = done.result;
  if (status === "failed" && run?.error !== undefined) info.error = run.error;
  return info;
}
