// Whole-state reads: the live namespace or a checkpoint as one object, and
// what changed between two states, with values. Keys come in UTF-8 byte
// order, so the same state reads the same from every backend.
import type { Context } from "./_checkpoints.ts";
import { compareKeys } from "./_keys.ts";
import { validateCheckpointName } from "./_validate.ts";
import { CheckpointNotFoundError, ValidationError } from "../errors.ts";
import type { JsonValue, StoredEntry } from "../types.ts";
import type { ReadOptions, ValueDiff } from "../options.ts";

/** Keys per page when reading a whole namespace. */
const PAGE = 1000;

/** Every live key of the namespace (under `prefix`) with its value. */
export async function dump(
  ctx: Context,
  options: ReadOptions = {},
): Promise<Record<string, JsonValue>> {
  const prefix = prefixOf(options);
  return toObject(await liveEntries(ctx, prefix));
}

/** Every key of checkpoint `name` (under `prefix`) with its value, without restoring it. */
export async function readCheckpoint(
  ctx: Context,
  name: string,
  options: ReadOptions = {},
): Promise<Record<string, JsonValue>> {
  const prefix = prefixOf(options);
  return toObject(await checkpointEntries(ctx, name, prefix));
}

/** Keys added, removed and changed from checkpoint `from` to `to` (default: now), with values. */
export async function diffValues(
  ctx: Context,
  from: string,
  to: string | undefined,
): Promise<ValueDiff> {
  const before = await checkpointEntries(ctx, from, "");
  const after = to === undefined
    ? await liveEntries(ctx, "")
    : await checkpointEntries(ctx, to, "");
  const old = new Map(before.map((e) => [e.key, e.value]));
  const out: ValueDiff = { added: {}, removed: {}, changed: {} };
  for (const e of after) {
    const was = old.get(e.key);
    if (was === undefined) setOwn(out.added, e.key, JSON.parse(e.value));
    else if (was !== e.value) {
      setOwn(out.changed, e.key, { from: JSON.parse(was), to: JSON.parse(e.value) });
    }
    old.delete(e.key);
  }
  for (const [key, value] of [...old].sort(([a], [b]) => compareKeys(a, b))) {
    setOwn(out.removed, key, JSON.parse(value));
  }
  return out;
}

function prefixOf(options: ReadOptions): string {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("Read options must be an object");
  }
  if (options.prefix !== undefined && typeof options.prefix !== "string") {
    throw new ValidationError(`prefix must be a string, got ${typeof options.prefix}`);
  }
  return options.prefix ?? "";
}

/** Entries as one object; keys are inserted in byte order. */
function toObject(entries: StoredEntry[]): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const e of entries) setOwn(out, e.key, JSON.parse(e.value));
  return out;
}

/** Sets an own property, even one named "__proto__" (which `=` would take as the prototype). */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** The live entries under `prefix`, in byte order, read page by page. */
async function liveEntries(ctx: Context, prefix: string): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.call(() =>
      ctx.backend.list(ctx.namespace, {
        limit: PAGE,
        ...(prefix === "" ? {} : { prefix }),
        ...(cursor === undefined ? {} : { cursor }),
      })
    );
    const entries = await ctx.call(() => ctx.backend.get(ctx.namespace, page.keys));
    for (const e of entries) if (e) out.push(e);
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

/** A checkpoint's unexpired entries under `prefix`, in byte order. */
async function checkpointEntries(
  ctx: Context,
  name: string,
  prefix: string,
): Promise<StoredEntry[]> {
  validateCheckpointName(name);
  const entries = await ctx.call(() => ctx.backend.readCheckpoint(ctx.namespace, name));
  if (!entries) throw new CheckpointNotFoundError(ctx.namespace, name, "read");
  const now = Date.now();
  return entries
    .filter((e) => e.key.startsWith(prefix) && (e.expiresAt === null || e.expiresAt > now))
    .sort((a, b) => compareKeys(a.key, b.key));
}
