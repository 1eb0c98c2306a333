// Writes that depend on what is stored: read-modify-write (`update()` and the
// counters, lists and objects built on it), conditional saves and deletes, and
// leases. Each is one optimistic commit, retried on conflict, so it is correct
// with many writers in many processes on every backend.
import type { Engine } from "./_engine.ts";
import { encodeValue, expiryFrom, validateKey } from "./_validate.ts";
import { CheckFailedError, ConflictError, LeaseHeldError, ValidationError } from "../errors.ts";
import type { Check, JsonValue, SetOp } from "../types.ts";
import type { Lease, UpdateResult, WriteConditions } from "../options.ts";

/** What a committed update wrote, with the value its function was given. */
export interface Updated<T> extends UpdateResult<T> {
  expiresAt: number | null;
}

/**
 * Reads `key` (never from the cache), calls `fn`, and commits only if the key
 * is still at the version read; otherwise runs `fn` again on the new value.
 * `fn` may therefore run several times: it must not have side effects.
 */
export async function updateEntry<T>(
  engine: Engine,
  key: string,
  fn: (current: T | undefined) => T | Promise<T>,
  ttlMs: number | undefined,
  keepExpiry = false,
): Promise<Updated<T>> {
  validateKey(key);
  if (typeof fn !== "function") throw new ValidationError("update() takes a function");
  const max = engine.options.maxUpdateAttempts ?? 1000;
  for (let attempt = 1; attempt <= max; attempt++) {
    const current = await engine.read(key, true);
    const previous = current ? JSON.parse(current.value) as T : undefined;
    const next = await fn(previous === undefined ? undefined : structuredClone(previous));
    const text = encodeValue(next);
    // In-place edits (increment, append, merge) keep the key's expiry unless given a new one.
    const expiresAt = ttlMs === undefined && keepExpiry
      ? current?.expiresAt ?? null
      : expiryFrom(ttlMs, Date.now());
    const result = await engine.commit({
      checks: [{ key, version: current?.version ?? null }],
      sets: [{ key, value: text, expiresAt }],
      deletes: [],
    });
    if (result.ok) {
      return { previous, value: JSON.parse(text), version: result.version, expiresAt };
    }
    // Another writer won: back off a little so contenders spread out.
    if (attempt > 2) await sleep(Math.random() * Math.min(50, attempt));
  }
  throw new ConflictError(
    `Updating ${JSON.stringify(key)} in namespace ${
      JSON.stringify(engine.namespace)
    } lost ${max} races to other writers: retry later (or raise maxUpdateAttempts)`,
  );
}

/** Adds `by` to the number at `key` (a missing key counts as 0); returns the sum. */
export async function increment(
  engine: Engine,
  key: string,
  by: number,
  ttlMs: number | undefined,
): Promise<number> {
  if (typeof by !== "number" || !Number.isFinite(by)) {
    throw new ValidationError(`The amount to add must be a finite number, got ${String(by)}`);
  }
  const r = await updateEntry<JsonValue>(
    engine,
    key,
    (n = 0) => {
      if (typeof n !== "number") throw notA(engine, "increment", key, n, "a number");
      return n + by;
    },
    ttlMs,
    true,
  );
  return r.value as number;
}

/** Pushes `value` onto the array at `key` (missing: `[]`); returns the new array. */
export async function append(
  engine: Engine,
  key: string,
  value: unknown,
  ttlMs: number | undefined,
): Promise<JsonValue[]> {
  encodeValue(value); // refused before anything is read
  const r = await updateEntry<JsonValue>(
    engine,
    key,
    (list = []) => {
      if (!Array.isArray(list)) throw notA(engine, "append to", key, list, "an array");
      return [...list, value as JsonValue];
    },
    ttlMs,
    true,
  );
  return r.value as JsonValue[];
}

/** Shallow-merges `patch` into the object at `key` (missing: `{}`); returns the result. */
export async function merge(
  engine: Engine,
  key: string,
  patch: unknown,
  ttlMs: number | undefined,
): Promise<Record<string, JsonValue>> {
  if (!isObject(patch)) {
    throw new ValidationError(`A merge takes a JSON object, got ${describe(patch)}`);
  }
  encodeValue(patch);
  const r = await updateEntry<JsonValue>(
    engine,
    key,
    (doc = {}) => {
      if (!isObject(doc)) throw notA(engine, "merge into", key, doc, "an object");
      return { ...doc, ...(patch as Record<string, JsonValue>) };
    },
    ttlMs,
    true,
  );
  return r.value as Record<string, JsonValue>;
}

/**
 * Writes `entries` in one commit if `conditions` hold for every key;
 * otherwise writes nothing and throws {@linkcode CheckFailedError}.
 */
export async function writeIf(
  engine: Engine,
  entries: [string, unknown][],
  options: WriteConditions & { ttlMs?: number },
): Promise<string> {
  const expiresAt = expiryFrom(options.ttlMs, Date.now());
  const sets: SetOp[] = entries.map(([key, value]) => {
    validateKey(key);
    const where = entries.length > 1 ? `value[${JSON.stringify(key)}]` : undefined;
    return { key, value: encodeValue(value, where), expiresAt };
  });
  const checks = checksFor(sets, options);
  const result = await engine.commit({ checks, sets, deletes: [] });
  if (!result.ok) throw await checkFailed(engine, checks);
  return result.version;
}

/** Deletes `key` if `conditions` hold (else {@linkcode CheckFailedError}). */
export async function deleteIf(
  engine: Engine,
  key: string,
  conditions: WriteConditions,
): Promise<void> {
  validateKey(key);
  const checks = checksFor([key], conditions);
  const result = await engine.commit({ checks, sets: [], deletes: [key] });
  if (!result.ok) throw await checkFailed(engine, checks);
}

/** The version checks that `conditions` ask for (none when they are empty). */
function checksFor(keys: (string | { key: string })[], conditions: WriteConditions): Check[] {
  if (typeof conditions !== "object" || conditions === null) {
    throw new ValidationError("Write options must be an object");
  }
  const { ifVersion, ifAbsent } = conditions;
  if (ifAbsent !== undefined && typeof ifAbsent !== "boolean") {
    throw new ValidationError(`ifAbsent must be a boolean, got ${describe(ifAbsent)}`);
  }
  if (ifVersion !== undefined && (typeof ifVersion !== "string" || ifVersion === "")) {
    throw new ValidationError(`ifVersion must be a version string, got ${describe(ifVersion)}`);
  }
  if (ifVersion !== undefined && ifAbsent) {
    throw new ValidationError("Give ifVersion or ifAbsent, not both");
  }
  if (ifVersion !== undefined && keys.length !== 1) {
    throw new ValidationError("ifVersion checks one key: write the others with atomic()");
  }
  const keyOf = (k: string | { key: string }) => typeof k === "string" ? k : k.key;
  if (ifVersion !== undefined) return [{ key: keyOf(keys[0]!), version: ifVersion }];
  return ifAbsent ? keys.map((k) => ({ key: keyOf(k), version: null })) : [];
}

/** The error for a failed check, naming the first key that is not as required. */
async function checkFailed(engine: Engine, checks: Check[]): Promise<CheckFailedError> {
  const now = await engine.call(() =>
    engine.backend.get(engine.namespace, checks.map((c) => c.key))
  );
  const i = checks.findIndex((c, j) => (now[j]?.version ?? null) !== c.version);
  const failed = checks[i === -1 ? 0 : i]!;
  return new CheckFailedError(
    engine.namespace,
    i === -1 && checks.length > 1 ? null : failed.key,
    failed.version,
  );
}

/**
 * Takes or renews the lease `key` for `owner`: writes `owner` as its value if
 * the key is absent (or expired) or already `owner`'s; else throws
 * {@linkcode LeaseHeldError}.
 */
export async function claim(
  engine: Engine,
  key: string,
  owner: string,
  ttlMs: number | undefined,
): Promise<Lease> {
  validateOwner(owner);
  const r = await updateEntry<JsonValue>(engine, key, (held) => {
    if (held !== undefined && held !== owner) {
      throw new LeaseHeldError(engine.namespace, key, ownerOf(held), "claim");
    }
    return owner;
  }, ttlMs);
  return { key, owner, version: r.version, expiresAt: r.expiresAt };
}

/**
 * Ends `owner`'s lease `key`: true when it was released, false when nobody
 * held it (it expired); {@linkcode LeaseHeldError} when another owner holds it.
 */
export async function release(engine: Engine, key: string, owner: string): Promise<boolean> {
  validateKey(key);
  validateOwner(owner);
  const max = engine.options.maxUpdateAttempts ?? 1000;
  for (let attempt = 1; attempt <= max; attempt++) {
    const held = await engine.read(key, true);
    if (held === null) return false;
    const holder = JSON.parse(held.value) as JsonValue;
    if (holder !== owner) {
      throw new LeaseHeldError(engine.namespace, key, ownerOf(holder), "release");
    }
    const result = await engine.commit({
      checks: [{ key, version: held.version }],
      sets: [],
      deletes: [key],
    });
    if (result.ok) return true;
  }
  throw new ConflictError(
    `Releasing ${JSON.stringify(key)} lost ${max} races to other writers: retry later`,
  );
}

function validateOwner(owner: unknown): asserts owner is string {
  if (typeof owner !== "string" || owner === "") {
    throw new ValidationError(`A lease's owner must be a non-empty string, got ${describe(owner)}`);
  }
}

/** A holder's value as a name (a lease written by other means may hold anything). */
function ownerOf(value: JsonValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function notA(
  engine: Engine,
  verb: string,
  key: string,
  value: JsonValue,
  kind: string,
): ValidationError {
  return new ValidationError(
    `Cannot ${verb} key ${JSON.stringify(key)} in namespace ${
      JSON.stringify(engine.namespace)
    }: it holds ${describe(value)}, not ${kind}`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `a string (${JSON.stringify(value).slice(0, 40)})`;
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
