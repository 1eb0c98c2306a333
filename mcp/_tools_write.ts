// The tools that change state: save, incr, append, merge, delete,
// checkpoint, restore. Each validates everything (through the library)
// before its one atomic write, so a refused call writes nothing.
import { z } from "zod";
import { ConflictError, ValidationError } from "../errors.ts";
import type { JsonValue } from "../types.ts";
import { append, incr, merge } from "./_verbs.ts";
import { jsonValue, key, namespace, show, type Tool, tool, ttlMs, writes } from "./_tool.ts";

const objectValue = z.record(z.string(), z.unknown());

/** The write tools, in the order tools/list shows them. */
export const WRITE_TOOLS: Tool[] = [
  tool({
    name: "save",
    description: "Save one key (`key` + `value`) or several at once (`values`), atomically. " +
      "`ifVersion` (from `load`) or `ifAbsent` make it a check-and-set: if the check fails " +
      "nothing is written (CONFLICT).",
    writes: true,
    annotations: writes("Save values", false, true),
    input: z.strictObject({
      namespace,
      key: key.optional(),
      value: jsonValue.optional().describe("the value for `key` (any JSON value)"),
      values: objectValue.optional().describe("several keys and their values, saved together"),
      ttlMs,
      ifVersion: z.string().optional().describe("save only if `key` is at this version"),
      ifAbsent: z.boolean().optional().describe("save only if no key given exists yet"),
    }),
    output: z.object({
      saved: z.array(z.string()),
      version: z.string().describe("the new version of every saved key"),
    }),
    async run(args, states) {
      const entries = saveEntries(args);
      if (args.ifVersion !== undefined && args.ifAbsent) {
        throw new ValidationError('Give at most one of "ifVersion" and "ifAbsent"');
      }
      if (args.ifVersion !== undefined && args.values !== undefined) {
        throw new ValidationError('"ifVersion" goes with "key"; with "values" use "ifAbsent"');
      }
      const state = await states.get(args.namespace);
      const op = state.atomic();
      for (const [k, v] of entries) {
        if (args.ifAbsent) op.check(k, null);
        if (args.ifVersion !== undefined) op.check(k, args.ifVersion);
        op.set(k, v, args.ttlMs === undefined ? {} : { ttlMs: args.ttlMs });
      }
      const done = await op.commit();
      const keys = entries.map(([k]) => k);
      if (!done.ok) {
        throw new ConflictError(
          args.ifAbsent
            ? `${plural(keys)} ${show(keys.length === 1 ? keys[0] : keys)} already ${
              keys.length === 1 ? "exists" : "exist (some of them)"
            } in namespace ${show(state.namespace)}`
            : `Key ${show(keys[0])} in namespace ${show(state.namespace)} is no longer at version ${
              show(args.ifVersion)
            }`,
        );
      }
      return { result: { saved: keys, version: done.version }, text: `Saved ${keys.join(", ")}` };
    },
  }),
  tool({
    name: "incr",
    description: "Add `by` (default 1) to a number, atomically across processes; a missing key " +
      "counts as 0. Returns the new value.",
    writes: true,
    annotations: writes("Increment a counter", false, false),
    input: z.strictObject({
      namespace,
      key,
      by: z.number().optional().describe("the amount to add (default 1; may be negative)"),
      ttlMs,
    }),
    output: z.object({ key: z.string(), value: z.number() }),
    async run(args, states) {
      const value = await incr(
        await states.get(args.namespace),
        args.key,
        args.by ?? 1,
        args.ttlMs,
      );
      return { result: { key: args.key, value }, text: String(value) };
    },
  }),
  tool({
    name: "append",
    description: "Push `value` (or each of `values`) onto the array at `key`, atomically across " +
      "processes; a missing key is an empty array. Returns the new length.",
    writes: true,
    annotations: writes("Append to a list", false, false),
    input: z.strictObject({
      namespace,
      key,
      value: jsonValue.optional().describe("one item to append"),
      values: z.array(z.unknown()).optional().describe("several items to append, in order"),
      ttlMs,
    }),
    output: z.object({ key: z.string(), length: z.number() }),
    async run(args, states) {
      if ((args.value === undefined) === (args.values === undefined)) {
        throw new ValidationError('Give exactly one of "value" and "values"');
      }
      const items = (args.values ?? [args.value]) as JsonValue[];
      const list = await append(await states.get(args.namespace), args.key, items, args.ttlMs);
      return { result: { key: args.key, length: list.length }, text: `${list.length} items` };
    },
  }),
  tool({
    name: "merge",
    description: "Merge the fields of `value` into the object at `key` (shallow: a field given " +
      "replaces the field stored), atomically across processes; a missing key is `{}`.",
    writes: true,
    annotations: writes("Merge into an object", false, true),
    input: z.strictObject({
      namespace,
      key,
      value: objectValue.describe("the fields to set"),
      ttlMs,
    }),
    output: z.object({ key: z.string(), value: objectValue }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      const merged = await merge(
        state,
        args.key,
        args.value as Record<string, JsonValue>,
        args.ttlMs,
      );
      return { result: { key: args.key, value: merged }, text: show(merged) };
    },
  }),
  tool({
    name: "delete",
    description: "Delete keys (`key` or `keys`, atomically; `ifVersion` checks a single key " +
      "first), one checkpoint (`checkpoint`), or the whole namespace with all its keys and " +
      "checkpoints (`wholeNamespace: true`). Deleting a missing key is not an error.",
    writes: true,
    annotations: writes("Delete keys, a checkpoint or a namespace", true, true),
    input: z.strictObject({
      namespace,
      key: key.optional(),
      keys: z.array(z.string()).min(1).optional().describe("several keys, deleted together"),
      ifVersion: z.string().optional().describe("delete `key` only if it is at this version"),
      checkpoint: z.string().optional().describe("the checkpoint to delete"),
      wholeNamespace: z.literal(true).optional().describe(
        "delete every key and checkpoint of the namespace",
      ),
    }),
    output: z.object({
      namespace: z.string(),
      keys: z.array(z.string()).optional(),
      checkpoint: z.string().optional(),
      wholeNamespace: z.boolean().optional(),
    }),
    async run(args, states) {
      const given = [args.key, args.keys, args.checkpoint, args.wholeNamespace]
        .filter((a) => a !== undefined).length;
      if (given !== 1) {
        throw new ValidationError(
          'Give exactly one of "key", "keys", "checkpoint" and "wholeNamespace"',
        );
      }
      if (args.ifVersion !== undefined && args.key === undefined) {
        throw new ValidationError('"ifVersion" goes with "key"');
      }
      const state = await states.get(args.namespace);
      const ns = state.namespace;
      if (args.checkpoint !== undefined) {
        await state.deleteCheckpoint(args.checkpoint);
        return {
          result: { namespace: ns, checkpoint: args.checkpoint },
          text: `Deleted checkpoint ${args.checkpoint}`,
        };
      }
      if (args.wholeNamespace) {
        await state.clear();
        return { result: { namespace: ns, wholeNamespace: true }, text: `Deleted namespace ${ns}` };
      }
      const keys = args.keys ?? [args.key!];
      const op = state.atomic();
      if (args.ifVersion !== undefined) op.check(args.key!, args.ifVersion);
      for (const k of keys) op.delete(k);
      if (!(await op.commit()).ok) {
        throw new ConflictError(
          `Key ${show(args.key)} in namespace ${show(ns)} is no longer at version ${
            show(args.ifVersion)
          }`,
        );
      }
      return { result: { namespace: ns, keys }, text: `Deleted ${keys.join(", ")}` };
    },
  }),
  tool({
    name: "checkpoint",
    description: "Take a checkpoint: an atomic snapshot of the namespace to restore later. " +
      "Without `name` a unique one is generated. Returns its name.",
    writes: true,
    annotations: writes("Take a checkpoint", false, false),
    input: z.strictObject({
      namespace,
      name: z.string().optional().describe("the checkpoint's name (default: generated)"),
      metadata: objectValue.optional().describe("a JSON object kept with it"),
      overwrite: z.boolean().optional().describe("replace a checkpoint of the same name"),
    }),
    output: z.object({ name: z.string() }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      const name = await state.checkpoint(args.name, {
        ...(args.metadata === undefined
          ? {}
          : { metadata: args.metadata as Record<string, JsonValue> }),
        overwrite: args.overwrite === true,
      });
      return { result: { name }, text: `Created checkpoint ${name}` };
    },
  }),
  tool({
    name: "restore",
    description: "Make the namespace exactly what it was at a checkpoint: values written since " +
      "are replaced and keys created since are deleted.",
    writes: true,
    annotations: writes("Restore a checkpoint", true, true),
    input: z.strictObject({ namespace, checkpoint: z.string().describe("the checkpoint") }),
    output: z.object({ restored: z.string() }),
    async run(args, states) {
      await (await states.get(args.namespace)).restoreCheckpoint(args.checkpoint);
      return { result: { restored: args.checkpoint }, text: `Restored ${args.checkpoint}` };
    },
  }),
];

/** A save call's keys and values, in one of its two forms. */
function saveEntries(
  args: { key?: string | undefined; value?: unknown; values?: Record<string, unknown> | undefined },
): [string, unknown][] {
  if (args.values !== undefined) {
    if (args.key !== undefined || args.value !== undefined) {
      throw new ValidationError('Give "key" and "value", or "values", not both');
    }
    const entries = Object.entries(args.values);
    if (entries.length === 0) throw new ValidationError('"values" is empty');
    return entries;
  }
  if (args.key === undefined || args.value === undefined) {
    throw new ValidationError('Give "key" and "value" (any JSON value), or "values"');
  }
  return [[args.key, args.value]];
}

function plural(keys: string[]): string {
  return keys.length === 1 ? "Key" : "Keys";
}
