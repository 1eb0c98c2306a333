// The tools that change state: save, incr, append, merge, delete,
// checkpoint, restore. Each is one library call, which validates everything
// before its one atomic write, so a refused call writes nothing.
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import type { JsonValue } from "../types.ts";
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
      ifVersion: z.string().optional().describe("save `key` only if it is at this version"),
      ifAbsent: z.boolean().optional().describe("save only if no key given exists yet"),
    }),
    output: z.object({ saved: z.array(z.string()) }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      const options = {
        ...(args.ttlMs === undefined ? {} : { ttlMs: args.ttlMs }),
        ...(args.ifAbsent === undefined ? {} : { ifAbsent: args.ifAbsent }),
      };
      if (args.values !== undefined) {
        if (args.key !== undefined || args.value !== undefined) {
          throw new ValidationError('Give "key" and "value", or "values", not both');
        }
        if (args.ifVersion !== undefined) {
          throw new ValidationError('"ifVersion" goes with "key"; with "values" use "ifAbsent"');
        }
        const keys = Object.keys(args.values);
        if (keys.length === 0) throw new ValidationError('"values" is empty');
        await state.saveMany(args.values, options);
        return { result: { saved: keys }, text: `Saved ${keys.join(", ")}` };
      }
      if (args.key === undefined || args.value === undefined) {
        throw new ValidationError('Give "key" and "value" (any JSON value), or "values"');
      }
      await state.save(args.key, args.value, {
        ...options,
        ...(args.ifVersion === undefined ? {} : { ifVersion: args.ifVersion }),
      });
      return { result: { saved: [args.key] }, text: `Saved ${args.key}` };
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
      const state = await states.get(args.namespace);
      const value = await state.increment(args.key, args.by ?? 1, ttl(args.ttlMs));
      return { result: { key: args.key, value }, text: String(value) };
    },
  }),
  tool({
    name: "append",
    description: "Push `value` onto the array at `key`, atomically across processes; a missing " +
      "key is an empty array. Returns the new length.",
    writes: true,
    annotations: writes("Append to a list", false, false),
    input: z.strictObject({
      namespace,
      key,
      value: jsonValue.describe("the item to append (any JSON value)"),
      ttlMs,
    }),
    output: z.object({ key: z.string(), length: z.number() }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      const list = await state.append(args.key, args.value, ttl(args.ttlMs));
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
      const merged = await state.merge(args.key, args.value, ttl(args.ttlMs));
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
      if (args.key !== undefined) {
        await state.delete(
          args.key,
          args.ifVersion === undefined ? {} : { ifVersion: args.ifVersion },
        );
        return { result: { namespace: ns, keys: [args.key] }, text: `Deleted ${args.key}` };
      }
      // Several keys in one commit: the library's atomic operation.
      const op = state.atomic();
      for (const k of args.keys!) op.delete(k);
      await op.commit();
      return {
        result: { namespace: ns, keys: args.keys! },
        text: `Deleted ${args.keys!.join(", ")}`,
      };
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

/** A `ttlMs` argument as library options. */
function ttl(ttlMs: number | undefined): { ttlMs?: number } {
  return ttlMs === undefined ? {} : { ttlMs };
}
