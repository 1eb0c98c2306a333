// The CLI's checkpoint commands: checkpoint, checkpoints, restore, diff.
import { validateCheckpointName, validateMetadata } from "../core/_validate.ts";
import type { JsonValue } from "../types.ts";
import type { ValueDiff } from "../options.ts";
import {
  type Command,
  type Ctx,
  formatBytes,
  openState,
  print,
  required,
  safe,
  safeJson,
  table,
} from "./_context.ts";
import { treeJson, treeText } from "./_history.ts";
import { storeIsMissing } from "./_info.ts";
import { progressBar } from "./_progress.ts";
import { UsageError } from "./_usage.ts";

/** Widest metadata shown in the `checkpoints` table; --json has all of it. */
const META_WIDTH = 40;

/** Metadata as short one-line JSON: `{}` shows as "-". */
function shortMeta(metadata: Record<string, JsonValue>): string {
  if (Object.keys(metadata).length === 0) return "-";
  const text = JSON.stringify(metadata);
  return text.length <= META_WIDTH ? text : `${text.slice(0, META_WIDTH - 3)}...`;
}

/** A value on one line, for diff output. */
function oneLine(value: JsonValue): string {
  return safeJson(JSON.stringify(value));
}

function printValueDiff(ctx: Ctx, d: ValueDiff): void {
  if (ctx.json) return print(ctx, "", d);
  const lines = [
    ...Object.entries(d.added).map(([k, v]) => `+ ${safe(k)} = ${oneLine(v)}`),
    ...Object.entries(d.removed).map(([k, v]) => `- ${safe(k)} = ${oneLine(v)}`),
    ...Object.entries(d.changed).map(([k, c]) =>
      `~ ${safe(k)}: ${oneLine(c.from)} -> ${oneLine(c.to)}`
    ),
  ];
  if (lines.length) ctx.io.out(lines.join("\n"));
  else ctx.io.err("no differences");
}

/** checkpoint, checkpoints, restore and diff. */
export const CHECKPOINT_COMMANDS: Record<string, Command> = {
  checkpoint: {
    summary: "Take a checkpoint (auto-named without --name)",
    usage: 'checkpoint --name after_planning [--metadata \'{"phase":"plan"}\']',
    options: {
      name: { type: "string", help: "the checkpoint's name" },
      metadata: { type: "string", help: "a JSON object stored with it" },
      overwrite: { type: "boolean", help: "replace a checkpoint of the same name" },
    },
    async run(ctx) {
      const { name, metadata, overwrite } = ctx.values;
      let meta: Record<string, JsonValue> | undefined;
      if (typeof metadata === "string") {
        try {
          meta = JSON.parse(metadata);
        } catch {
          throw new UsageError("--metadata must be a JSON object");
        }
        try {
          validateMetadata(meta);
        } catch (error) {
          throw new UsageError(`--${(error as Error).message}`); // "--metadata must be ..."
        }
      }
      if (typeof name === "string") validateCheckpointName(name);
      await using state = await openState(ctx.settings);
      const created = await state.checkpoint(typeof name === "string" ? name : undefined, {
        ...(meta === undefined ? {} : { metadata: meta }),
        overwrite: overwrite === true,
      });
      print(ctx, `Created checkpoint: ${safe(created)}`, { name: created });
    },
  },
  checkpoints: {
    summary: "List checkpoints, newest first, with their metadata; * marks the head",
    usage: "checkpoints [--tree]",
    options: {
      tree: { type: "boolean", help: "draw the lineage: each checkpoint under its parent" },
    },
    async run(ctx) {
      await using state = await openState(ctx.settings);
      const [list, head] = await Promise.all([state.listCheckpoints(), state.head()]);
      if (ctx.values.tree === true) {
        if (ctx.json) return print(ctx, "", treeJson(list, head));
        if (list.length === 0) ctx.io.err("no checkpoints");
        else ctx.io.out(treeText(list, head, (c) => shortMeta(c.metadata)));
        return;
      }
      if (ctx.json) return print(ctx, "", list.map((c) => ({ ...c, head: c.name === head?.name })));
      if (list.length === 0) return void ctx.io.err("no checkpoints");
      ctx.io.out(table([
        ["NAME", "CREATED", "KEYS", "SIZE", "METADATA"],
        ...list.map((c) => [
          c.name === head?.name ? `${c.name} *` : c.name,
          new Date(c.createdAt).toISOString(),
          String(c.keyCount),
          formatBytes(c.bytes),
          shortMeta(c.metadata),
        ]),
      ]));
    },
  },
  restore: {
    summary: "Make the namespace exactly what it was at a checkpoint",
    usage: "restore --checkpoint after_planning [--keep-prefix attempts:]",
    options: {
      checkpoint: { type: "string", help: "the checkpoint to restore" },
      "keep-prefix": {
        type: "string",
        help: "keys starting with this keep their live values (e.g. attempt counters)",
      },
    },
    async run(ctx) {
      const name = required(ctx.values, "checkpoint");
      validateCheckpointName(name);
      const prefix = ctx.values["keep-prefix"];
      if (prefix !== undefined && (typeof prefix !== "string" || prefix === "")) {
        throw new UsageError("--keep-prefix needs a non-empty key prefix");
      }
      await using state = await openState(ctx.settings);
      // Restoring is one atomic step; on a terminal the bar shows it is running.
      const info = ctx.io.stderrIsTty
        ? (await state.listCheckpoints()).find((c) => c.name === name)
        : undefined;
      const bar = info ? progressBar(ctx.io, `restoring ${safe(name)}`, info.keyCount) : undefined;
      try {
        await state.restoreCheckpoint(name, prefix ? { keep: { prefix } } : {});
        bar?.tick(info!.keyCount);
      } finally {
        bar?.done();
      }
      print(ctx, `Restored from: ${safe(name)}`, {
        restored: name,
        ...(prefix ? { kept: prefix } : {}),
      });
    },
  },
  diff: {
    summary: "Show keys added (+), removed (-) and changed (~) since a checkpoint",
    usage: "diff [--from after_planning] [--to after_build] [--values]",
    options: {
      from: { type: "string", help: "the older checkpoint (default: the head, see status)" },
      to: { type: "string", help: "the newer checkpoint (default: the current state)" },
      values: { type: "boolean", help: "show the values: added, removed, and old -> new" },
    },
    async run(ctx) {
      const given = ctx.values.from;
      const to = ctx.values.to;
      if (given === "") throw new UsageError("Missing --from");
      if (typeof given === "string") validateCheckpointName(given);
      if (typeof to === "string") validateCheckpointName(to);
      const target = typeof to === "string" ? to : undefined;
      const noHead = () =>
        new UsageError(
          'No checkpoint was taken or restored yet, so there is no head to diff from: give --from (run "checkpoints")',
        );
      // An empty store has no head: said without opening it (which would create it).
      if (typeof given !== "string" && storeIsMissing(ctx.settings)) throw noHead();
      await using state = await openState(ctx.settings);
      const from = typeof given === "string" ? given : (await state.head())?.name;
      if (from === undefined) throw noHead();
      if (ctx.values.values === true) {
        return printValueDiff(ctx, await state.diffCheckpointValues(from, target));
      }
      const d = await state.diffCheckpoint(from, target);
      if (ctx.json) return print(ctx, "", d);
      const lines = [
        ...d.added.map((k) => `+ ${safe(k)}`),
        ...d.removed.map((k) => `- ${safe(k)}`),
        ...d.changed.map((k) => `~ ${safe(k)}`),
      ];
      if (lines.length) ctx.io.out(lines.join("\n"));
      else ctx.io.err("no differences");
    },
  },
};
