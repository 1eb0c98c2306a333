// Durable steps: a step recorded as done is never run again (its recorded
// result is returned); otherwise its function runs and everything it saved is
// committed in one atomic commit with its done record. Records live in the
// namespace under the reserved prefix (see _step_records.ts).
import type { Engine } from "./_engine.ts";
import { Lease } from "./_lease.ts";
import { StepWriter, type WriterHost } from "./_step_writer.ts";
import {
  DONE_PREFIX,
  type DoneRecord,
  type ResetStepOptions,
  RUN_PREFIX,
  type RunRecord,
  type StepInfo,
  stepInfo,
  type StepOptions,
  validateStepName,
} from "./_step_records.ts";
import { encodeValue } from "./_validate.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import type { SetOp, StoredEntry } from "../types.ts";

/** What a phase adds to a step: its checkpoints. */
export interface StepHooks {
  /** Called before the first attempt with the previous run record; returns fields to record. */
  begin(previous: RunRecord | null): Promise<Partial<RunRecord>>;
  /** Called after the done commit. */
  done(run: RunRecord): Promise<void>;
  /** Writes the failure record `failed` (a phase rolls back with it). */
  fail(failed: SetOp, run: RunRecord): Promise<void>;
}

/** Longest error message kept in a failure record. */
const MAX_ERROR_CHARS = 4000;

/** Runs step `name` (see `StateManager.step()`). */
export async function runStep<T>(
  engine: Engine,
  name: string,
  fn: (step: StepWriter) => T | Promise<T>,
  options: StepOptions,
  parent?: StepWriter,
  hooks?: StepHooks,
): Promise<T> {
  validateStepName(name);
  if (typeof fn !== "function") throw new ValidationError("step() takes a function");
  const { attempts, backoff } = retryOf(options);
  const always = options.always === true;
  if (!always) {
    const done = await readDone(engine, name);
    if (done) return resultOf<T>(done);
  }
  let lease = options.lease ? await Lease.acquire(engine, name, options.lease) : undefined;
  try {
    if (lease && !always) {
      // The runner we waited for may have finished the step.
      const done = await readDone(engine, name);
      if (done) return resultOf<T>(done);
    }
    const host = writerHost(engine);
    let extra: Partial<RunRecord> | undefined;
    for (let attempt = 1;; attempt++) {
      extra ??= hooks ? await hooks.begin(await readRun(engine, name)) : {};
      const run = await startRun(engine, name, extra);
      const writer = new StepWriter(host, name, parent);
      let text: string | undefined;
      try {
        const value = await fn(writer);
        text = value === undefined ? undefined : encodeValue(value, "the step's result");
      } catch (error) {
        writer.end();
        const failed = record(RUN_PREFIX + name, {
          ...run,
          status: "failed",
          endedAt: Math.max(Date.now(), run.startedAt),
          error: messageOf(error),
        });
        if (hooks) {
          // A rollback rewrites the lease key: hold renewals until the lease is found again.
          await lease?.stop();
          await hooks.fail(failed, run);
          await lease?.resync();
        } else await engine.commit({ checks: [], sets: [failed], deletes: [] }, true);
        if (attempt >= attempts) throw error;
        await sleep(backoff * 2 ** (attempt - 1));
        continue;
      }
      const { sets, deletes } = writer.end();
      const endedAt = Math.max(Date.now(), run.startedAt);
      const done: DoneRecord = { attempts: run.attempts, startedAt: run.startedAt, endedAt };
      if (text !== undefined) done.result = JSON.parse(text);
      await lease?.stop();
      const commit = () =>
        engine.commit({
          checks: [
            ...(always ? [] : [{ key: DONE_PREFIX + name, version: null }]),
            ...(lease ? [lease.check()] : []),
          ],
          sets: [
            ...sets,
            record(DONE_PREFIX + name, done),
            record(RUN_PREFIX + name, { ...run, status: "done", endedAt }),
          ],
          deletes: lease ? [...deletes, lease.key] : deletes,
        }, true);
      let result = await commit();
      // A lease that only lapsed (nobody took it) still lets this runner finish.
      if (!result.ok && lease && (always || !(await readDone(engine, name)))) {
        if (await lease.stillOurs()) result = await commit();
      }
      if (!result.ok) {
        // Another runner recorded the step first (without a lease, both may run): theirs stands.
        const theirs = await readDone(engine, name);
        if (theirs && !always) return resultOf<T>(theirs);
        if (lease) lease.lost = true;
        throw new ConflictError(
          `Step ${JSON.stringify(name)} in namespace ${JSON.stringify(engine.namespace)} ${
            lease ? "lost its lease to another runner" : "was recorded and reset by another runner"
          } while it ran: nothing it saved was written`,
        );
      }
      lease = undefined; // deleted by the commit
      await hooks?.done({ ...run, status: "done", endedAt });
      return (text === undefined ? undefined : JSON.parse(text)) as T;
    }
  } finally {
    await lease?.release();
  }
}

/** Every step with a record, oldest start first. */
export async function listSteps(engine: Engine): Promise<StepInfo[]> {
  const done = new Map<string, DoneRecord>();
  const runs = new Map<string, RunRecord>();
  for (const e of await entriesUnder(engine, DONE_PREFIX)) {
    done.set(e.key.slice(DONE_PREFIX.length), JSON.parse(e.value));
  }
  for (const e of await entriesUnder(engine, RUN_PREFIX)) {
    runs.set(e.key.slice(RUN_PREFIX.length), JSON.parse(e.value));
  }
  const names = new Set([...done.keys(), ...runs.keys()]);
  return [...names]
    .map((n) => stepInfo(n, done.get(n) ?? null, runs.get(n) ?? null))
    .sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || (a.name < b.name ? -1 : 1));
}

/**
 * Forgets step `name`, its nested steps and (with `andLater`) every step
 * that started after it, in one atomic commit; returns their names.
 */
export async function resetSteps(
  engine: Engine,
  name: string,
  options: ResetStepOptions,
): Promise<string[]> {
  validateStepName(name);
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("resetStep() options must be an object");
  }
  const all = await listSteps(engine);
  const target = all.find((s) => s.name === name);
  if (!target) return [];
  const from = target.startedAt ?? Infinity;
  const doomed = all.filter((s) =>
    s.name === name || s.name.startsWith(name + "/") ||
    (options.andLater === true && s.startedAt !== null && s.startedAt >= from)
  ).map((s) => s.name);
  await engine.commit({
    checks: [],
    sets: [],
    deletes: doomed.flatMap((n) => [DONE_PREFIX + n, RUN_PREFIX + n]),
  }, true);
  return doomed;
}

/** Live entries whose keys start with `prefix`. */
export async function entriesUnder(engine: Engine, prefix: string): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  let cursor: string | null = null;
  do {
    const page = await engine.call(() =>
      engine.backend.list(engine.namespace, {
        prefix,
        limit: 1000,
        ...(cursor === null ? {} : { cursor }),
      })
    );
    const entries = await engine.call(() => engine.backend.get(engine.namespace, page.keys));
    for (const e of entries) if (e) out.push(e);
    cursor = page.cursor;
  } while (cursor !== null);
  return out;
}

/** A record as a set operation (records never expire). */
export function record(key: string, value: DoneRecord | RunRecord): SetOp {
  return { key, value: JSON.stringify(value), expiresAt: null };
}

function writerHost(engine: Engine): WriterHost {
  return {
    namespace: engine.namespace,
    read: (key) => engine.read(key),
    step: (name, fn, options, parent) => runStep(engine, name, fn, options, parent),
  };
}

async function readDone(engine: Engine, name: string): Promise<DoneRecord | null> {
  const entry = await engine.read(DONE_PREFIX + name, true);
  return entry && JSON.parse(entry.value);
}

async function readRun(engine: Engine, name: string): Promise<RunRecord | null> {
  const entry = await engine.read(RUN_PREFIX + name, true);
  return entry && JSON.parse(entry.value);
}

/** Records a new run (one more attempt), retrying if another runner wrote the record meanwhile. */
async function startRun(
  engine: Engine,
  name: string,
  extra: Partial<RunRecord>,
): Promise<RunRecord> {
  const key = RUN_PREFIX + name;
  for (;;) {
    const entry = await engine.read(key, true);
    const seen: RunRecord | null = entry && JSON.parse(entry.value);
    const run: RunRecord = {
      ...extra,
      status: "running",
      attempts: (seen?.attempts ?? 0) + 1,
      startedAt: nextStart(),
    };
    const result = await engine.commit(
      { checks: [{ key, version: entry?.version ?? null }], sets: [record(key, run)], deletes: [] },
      true,
    );
    if (result.ok) return run;
  }
}

let lastStart = 0;
/**
 * Now, but later than the previous start in this process, so steps started
 * in one millisecond still sort (and `resetStep(..., { andLater })`) in order.
 */
function nextStart(): number {
  lastStart = Math.max(Date.now(), lastStart + 1);
  return lastStart;
}

function resultOf<T>(done: DoneRecord): T {
  return done.result as T;
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_ERROR_CHARS ? text.slice(0, MAX_ERROR_CHARS) + "..." : text;
}

function retryOf(options: StepOptions): { attempts: number; backoff: number } {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("step() options must be an object");
  }
  const attempts = options.retry?.attempts ?? 1;
  const backoff = options.retry?.backoff ?? 0;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new ValidationError("step() retry.attempts must be a positive integer");
  }
  if (!Number.isFinite(backoff) || backoff < 0) {
    throw new ValidationError("step() retry.backoff must be a number of ms, 0 or more");
  }
  const ttl = options.lease?.ttlMs;
  if (ttl !== undefined && !(Number.isFinite(ttl) && ttl > 0)) {
    throw new ValidationError("step() lease.ttlMs must be a positive number of ms");
  }
  return { attempts, backoff };
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
