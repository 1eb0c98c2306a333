// The tools that only read: load, dump, keys, checkpoints, diff, status, namespaces.
import { z } from "zod";
import { KeyNotFoundError } from "../errors.ts";
import type { CheckpointInfo } from "../types.ts";
import { ToolError } from "./_errors.ts";
import { jsonValue, key, namespace, reads, show, type Tool, tool } from "./_tool.ts";

/** Keys per `keys` call when the caller gives no limit. */
const KEYS_LIMIT = 1000;

const checkpointInfo = z.object({
  name: z.string(),
  createdAt: z.string().describe("ISO 8601 time it was taken"),
  keyCount: z.number(),
  bytes: z.number(),
  auto: z.boolean().describe("whether the name was generated"),
  metadata: z.record(z.string(), z.unknown()),
  parent: z.string().nullable().describe("the head when it was taken (null for the first)"),
});

/** A checkpoint's info with its time as ISO 8601 text. */
function describeCheckpoint(c: CheckpointInfo): z.output<typeof checkpointInfo> {
  return {
    name: c.name,
    createdAt: new Date(c.createdAt).toISOString(),
    keyCount: c.keyCount,
    bytes: c.bytes,
    auto: c.auto,
    metadata: c.metadata,
    parent: c.parent,
  };
}

/** The read tools, in the order tools/list shows them. */
export const READ_TOOLS: Tool[] = [
  tool({
    name: "load",
    description: "Read one key's value and version, or its value in a checkpoint (`checkpoint`; " +
      "restores nothing). Without `default` a missing key is an error (KEY_NOT_FOUND); with " +
      "it, `default` is returned and `found` is false.",
    writes: false,
    annotations: reads("Load a value"),
    input: z.strictObject({
      namespace,
      key,
      default: jsonValue.optional().describe("returned when the key is missing (any JSON value)"),
      checkpoint: z.string().optional().describe("read the value this checkpoint holds"),
    }),
    output: z.object({
      key: z.string(),
      found: z.boolean(),
      value: jsonValue,
      version: z.string().nullable().describe(
        "pass it as `ifVersion` to `save` (null when missing or read from a checkpoint)",
      ),
    }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      let found: { value: unknown; version: string | null } | null;
      if (args.checkpoint !== undefined) {
        const all = await state.readCheckpoint(args.checkpoint, { prefix: args.key });
        found = Object.hasOwn(all, args.key) ? { value: all[args.key], version: null } : null;
      } else found = await state.getEntry(args.key);
      if (found) {
        return {
          result: { key: args.key, found: true, value: found.value, version: found.version },
          text: show(found.value),
        };
      }
      if (args.default !== undefined) {
        return {
          result: { key: args.key, found: false, value: args.default, version: null },
          text: show(args.default),
        };
      }
      if (args.checkpoint === undefined) throw new KeyNotFoundError(state.namespace, args.key);
      throw new ToolError(
        "KEY_NOT_FOUND",
        `Key ${show(args.key)} is not in checkpoint ${show(args.checkpoint)} of namespace ${
          show(state.namespace)
        }`,
        'call "dump" with "checkpoint" to see what it holds, or give "default"',
      );
    },
  }),
  tool({
    name: "dump",
    description: "Every key (under `prefix`) with its value, as one object: the live state, or " +
      "a checkpoint's (`checkpoint`; restores nothing).",
    writes: false,
    annotations: reads("Read the whole state"),
    input: z.strictObject({
      namespace,
      prefix: z.string().optional().describe("only keys starting with this"),
      checkpoint: z.string().optional().describe("read this checkpoint instead of the live state"),
    }),
    output: z.object({ values: z.record(z.string(), z.unknown()) }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      const options = args.prefix === undefined ? {} : { prefix: args.prefix };
      const values = args.checkpoint === undefined
        ? await state.dump(options)
        : await state.readCheckpoint(args.checkpoint, options);
      return { result: { values }, text: show(values) };
    },
  }),
  tool({
    name: "keys",
    description: `List keys in byte order, optionally by prefix, ${KEYS_LIMIT} at a time ` +
      "unless `limit` says otherwise; pass the returned `cursor` to get the next page.",
    writes: false,
    annotations: reads("List keys"),
    input: z.strictObject({
      namespace,
      prefix: z.string().optional().describe("only keys starting with this"),
      limit: z.number().int().min(1).max(10_000).optional().describe(
        `at most this many keys (default ${KEYS_LIMIT})`,
      ),
      cursor: z.string().optional().describe("continue after this key"),
    }),
    output: z.object({
      keys: z.array(z.string()),
      cursor: z.string().nullable().describe("null when there are no more keys"),
    }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      const page = await state.listKeys({
        ...(args.prefix === undefined ? {} : { prefix: args.prefix }),
        ...(args.cursor === undefined ? {} : { cursor: args.cursor }),
        limit: args.limit ?? KEYS_LIMIT,
      });
      const more = page.cursor === null ? "" : `\n(more: pass cursor ${show(page.cursor)})`;
      return { result: page, text: (page.keys.join("\n") || "(no keys)") + more };
    },
  }),
  tool({
    name: "checkpoints",
    description: "List the namespace's checkpoints, newest first, with their metadata.",
    writes: false,
    annotations: reads("List checkpoints"),
    input: z.strictObject({ namespace }),
    output: z.object({ checkpoints: z.array(checkpointInfo) }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      const list = (await state.listCheckpoints()).map(describeCheckpoint);
      const text = list.map((c) => `${c.name}  ${c.createdAt}  ${c.keyCount} keys`).join("\n");
      return { result: { checkpoints: list }, text: text || "(no checkpoints)" };
    },
  }),
  tool({
    name: "diff",
    description: "Keys added, removed and changed from checkpoint `from` to checkpoint `to` " +
      "(default: the current state); with `values`, their values too (changed keys as " +
      "`{from, to}`).",
    writes: false,
    annotations: reads("Compare with a checkpoint"),
    input: z.strictObject({
      namespace,
      from: z.string().describe("the older checkpoint"),
      to: z.string().optional().describe("the newer checkpoint (default: the current state)"),
      values: z.boolean().optional().describe("include the values"),
    }),
    output: z.object({
      from: z.string(),
      to: z.string().nullable(),
      added: z.array(z.string()),
      removed: z.array(z.string()),
      changed: z.array(z.string()),
      values: z.object({
        added: z.record(z.string(), z.unknown()),
        removed: z.record(z.string(), z.unknown()),
        changed: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })),
      }).optional().describe("with `values: true`"),
    }),
    async run(args, states) {
      const state = await states.get(args.namespace);
      const head = { from: args.from, to: args.to ?? null };
      let result;
      if (args.values) {
        const v = await state.diffCheckpointValues(args.from, args.to);
        result = {
          ...head,
          added: Object.keys(v.added),
          removed: Object.keys(v.removed),
          changed: Object.keys(v.changed),
          values: v,
        };
      } else result = { ...head, ...(await state.diffCheckpoint(args.from, args.to)) };
      const lines = [
        ...result.added.map((k) => `+ ${k}`),
        ...result.removed.map((k) => `- ${k}`),
        ...result.changed.map((k) => `~ ${k}`),
      ];
      return { result, text: lines.join("\n") || "(no differences)" };
    },
  }),
  tool({
    name: "status",
    description: "Where the namespace stands: its key count, its head (the checkpoint last " +
      "taken or restored), the keys changed since, the newest checkpoint, and whether that " +
      "one lies on a branch abandoned by a restore. Call it first when resuming after a crash.",
    writes: false,
    annotations: reads("Namespace status"),
    input: z.strictObject({ namespace }),
    output: z.object({
      namespace: z.string(),
      backend: z.string(),
      keyCount: z.number(),
      head: z.object({
        name: z.string(),
        via: z.enum(["checkpoint", "restore"]),
        at: z.string().describe("ISO 8601 time"),
      }).nullable(),
      changes: z.object({
        added: z.array(z.string()),
        removed: z.array(z.string()),
        changed: z.array(z.string()),
      }).describe("keys changed since the head's checkpoint"),
      newest: checkpointInfo.nullable(),
      abandoned: z.boolean().describe("the newest checkpoint is not on the head's line"),
    }),
    async run(args, states) {
      const s = await (await states.get(args.namespace)).status();
      const result = {
        ...s,
        head: s.head && { ...s.head, at: new Date(s.head.at).toISOString() },
        newest: s.newest && describeCheckpoint(s.newest),
      };
      const { added, removed, changed } = s.changes;
      const lines = [
        `${s.namespace} on ${s.backend}: ${s.keyCount} keys`,
        s.head
          ? `head: ${s.head.name} (${s.head.via === "restore" ? "restored" : "taken"})`
          : "head: none",
        `since the head: ${added.length} added, ${removed.length} removed, ${changed.length} changed`,
        ...(s.abandoned
          ? [`the newest checkpoint, ${s.newest!.name}, is on an abandoned branch`]
          : []),
      ];
      return { result, text: lines.join("\n") };
    },
  }),
  tool({
    name: "namespaces",
    description: "List the namespaces that hold keys or checkpoints.",
    writes: false,
    annotations: reads("List namespaces"),
    input: z.strictObject({}),
    output: z.object({ namespaces: z.array(z.string()) }),
    async run(_args, states) {
      const names = await (await states.get()).listNamespaces();
      return { result: { namespaces: names }, text: names.join("\n") || "(no namespaces)" };
    },
  }),
];
