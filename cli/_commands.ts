// The CLI's commands. Each takes parsed options and an output sink and
// returns nothing; errors are thrown and mapped to exit codes by cli.ts.
import { readFileSync } from "node:fs";
import {
  encodeValue,
  expiryFrom,
  validateCheckpointName,
  validateKey,
  validateMetadata,
} from "../core/_validate.ts";
import { validateListOptions } from "../core/_validate_options.ts";
import { configToSave, ENV, writeConfig } from "./_config.ts";
import process from "node:process";
import { UsageError } from "./_usage.ts";
import { gatherInfo } from "./_info.ts";
import { progressBar } from "./_progress.ts";
import type { JsonValue } from "../types.ts";
import { StateManager } from "../state_manager.ts";
import { MIGRATE_COMMANDS } from "./_migrate_commands.ts";
import { MCP_COMMAND } from "../mcp/command.ts";
import { STEP_COMMANDS } from "./_step_commands.ts";
import { UI_COMMANDS } from "../ui/_command.ts";
import {
  type Command,
  type Ctx,
  formatBytes,
  locationOf,
  openState,
  parseLoose,
  positiveInt,
  print,
  required,
  safe,
  safeJson,
  table,
  type Values,
} from "./_context.ts";

async function readValue(ctx: Ctx): Promise<unknown> {
  const { values, io } = ctx;
  const sources = ["value", "value-file"].filter((n) => values[n] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError("Give the value with exactly one of --value or --value-file");
  }
  let text: string;
  const file = values["value-file"];
  if (typeof file === "string") {
    if (file === "-") text = await io.stdin();
    else {
      try {
        text = readFileSync(file, "utf8");
      } catch (error) {
        if ((error as Error).name === "NotCapable") throw error; // a permission, not a typo
        throw new UsageError(`Cannot read --value-file ${file}: ${(error as Error).message}`);
      }
    }
  } else {
    text = String(values.value);
    if (text === "-") text = await io.stdin();
  }
  if (values.string) return text;
  if (typeof file === "string") {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new UsageError(
        `--value-file ${file} is not valid JSON (${
          (error as Error).message
        }): fix it or add --string`,
      );
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON: a plain string, as the seed's CLI examples expect
  }
}

function ttl(values: Values): { ttlMs?: number } {
  const t = values["ttl-ms"];
  if (t === undefined) return {};
  const n = Number(t);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--ttl-ms must be a positive number`);
  return { ttlMs: n };
}

/** Keys per page when `keys` lists a whole namespace. */
const KEYS_PAGE = 1000;

/** Every command, by name. */
export const COMMANDS: Record<string, Command> = {
  init: {
    summary: "Choose the backend and namespace for later commands",
    usage: "init --backend json --namespace workflow-123",
    options: {},
    async run(ctx) {
      // A URL from the environment stays there (it may hold a password).
      const urlFromEnv = ctx.values.url === undefined && !!process.env[ENV.url];
      const doc = configToSave(ctx.settings, urlFromEnv); // refused before anything is written
      await (await openState(ctx.settings)).close();
      const path = writeConfig(ctx.settings.dir, doc);
      print(
        ctx,
        `Initialized ${ctx.settings.backend} backend for ${ctx.settings.namespace}`,
        { backend: ctx.settings.backend, namespace: ctx.settings.namespace, config: path },
      );
    },
  },
  save: {
    summary: "Save a value (JSON, or a plain string when it is not JSON)",
    usage: "save --key phase --value building",
    options: {
      key: { type: "string", help: "the key" },
      value: { type: "string", help: 'the value: JSON, else a string; "-" reads stdin' },
      "value-file": { type: "string", help: 'read the value (JSON) from a file; "-" is stdin' },
      string: { type: "boolean", help: "store the value as a string even if it looks like JSON" },
      "ttl-ms": { type: "string", help: "delete the key after this many milliseconds" },
    },
    async run(ctx) {
      const key = required(ctx.values, "key");
      const value = await readValue(ctx);
      const options = ttl(ctx.values);
      // Checked before the store is opened, so a usage error writes nothing.
      validateKey(key);
      encodeValue(value);
      expiryFrom(options.ttlMs, Date.now());
      await using state = await openState(ctx.settings);
      await state.save(key, value, options);
      print(ctx, `Saved ${safe(key)}`, { key, saved: true });
    },
  },
  load: {
    summary: "Print a value as JSON",
    usage: "load --key phase",
    options: {
      key: { type: "string", help: "the key" },
      default: {
        type: "string",
        help: "print this (JSON or string) instead of failing when missing",
      },
    },
    async run(ctx) {
      const key = required(ctx.values, "key");
      validateKey(key);
      await using state = await openState(ctx.settings);
      const fallback = ctx.values.default;
      const value = typeof fallback === "string"
        ? await state.load(key, parseLoose(fallback))
        : await state.load(key);
      ctx.io.out(
        ctx.json ? JSON.stringify(value, null, 2) : safeJson(JSON.stringify(value, null, 2)),
      );
    },
  },
  delete: {
    summary: "Delete a key, or a checkpoint with --checkpoint",
    usage: "delete --key phase | delete --checkpoint after_planning",
    options: {
      key: { type: "string", help: "the key to delete" },
      checkpoint: { type: "string", help: "the checkpoint to delete" },
    },
    async run(ctx) {
      const { key, checkpoint } = ctx.values;
      if ((typeof key === "string") === (typeof checkpoint === "string")) {
        throw new UsageError("Give exactly one of --key or --checkpoint");
      }
      if (typeof key === "string") validateKey(key);
      else validateCheckpointName(checkpoint);
      await using state = await openState(ctx.settings);
      if (typeof key === "string") {
        await state.delete(key);
        print(ctx, `Deleted ${safe(key)}`, { key, deleted: true });
      } else {
        await state.deleteCheckpoint(String(checkpoint));
        print(ctx, `Deleted checkpoint: ${safe(String(checkpoint))}`, {
          checkpoint,
          deleted: true,
        });
      }
    },
  },
  keys: {
    summary: "List keys, one per line (all of them, page by page, unless --limit)",
    usage: "keys [--prefix task:] [--limit 100 --cursor LAST]",
    options: {
      prefix: { type: "string", help: "only keys starting with this" },
      limit: { type: "string", help: "at most this many keys" },
      cursor: { type: "string", help: "continue after this key (printed by a limited listing)" },
    },
    async run(ctx) {
      const { prefix, limit, cursor } = ctx.values;
      validateListOptions({
        ...(typeof prefix === "string" ? { prefix } : {}),
        ...(typeof cursor === "string" ? { cursor } : {}),
        ...(typeof limit === "string" ? { limit: positiveInt(limit, "--limit") } : {}),
      });
      await using state = await openState(ctx.settings);
      const base = typeof prefix === "string" ? { prefix } : {};
      if (typeof limit === "string") {
        const page = await state.listKeys({
          ...base,
          ...(typeof cursor === "string" ? { cursor } : {}),
          limit: positiveInt(limit, "--limit"),
        });
        if (ctx.json) return print(ctx, "", page);
        if (page.keys.length) ctx.io.out(page.keys.map((k) => safe(k)).join("\n"));
        if (page.cursor !== null) {
          ctx.io.err(`more keys: add --cursor ${safe(JSON.stringify(page.cursor))}`);
        }
        return;
      }
      // Everything, a page at a time: text streams out as it is read.
      const all: string[] = [];
      let next = typeof cursor === "string" ? cursor : null;
      do {
        const page = await state.listKeys({
          ...base,
          ...(next === null ? {} : { cursor: next }),
          limit: KEYS_PAGE,
        });
        if (ctx.json) all.push(...page.keys);
        else if (page.keys.length) ctx.io.out(page.keys.map((k) => safe(k)).join("\n"));
        next = page.cursor;
      } while (next !== null);
      if (ctx.json) print(ctx, "", { keys: all, cursor: null });
    },
  },
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
        validateMetadata(meta);
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
    summary: "List checkpoints, newest first",
    usage: "checkpoints",
    options: {},
    async run(ctx) {
      await using state = await openState(ctx.settings);
      const list = await state.listCheckpoints();
      if (ctx.json) return print(ctx, "", list);
      if (list.length === 0) return ctx.io.err("no checkpoints");
      ctx.io.out(table([
        ["NAME", "CREATED", "KEYS", "SIZE"],
        ...list.map((c) => [
          c.name,
          new Date(c.createdAt).toISOString(),
          String(c.keyCount),
          formatBytes(c.bytes),
        ]),
      ]));
    },
  },
  restore: {
    summary: "Make the namespace exactly what it was at a checkpoint",
    usage: "restore --checkpoint after_planning",
    options: { checkpoint: { type: "string", help: "the checkpoint to restore" } },
    async run(ctx) {
      const name = required(ctx.values, "checkpoint");
      validateCheckpointName(name);
      await using state = await openState(ctx.settings);
      // Restoring is one atomic step; on a terminal the bar shows it is running.
      const info = ctx.io.stderrIsTty
        ? (await state.listCheckpoints()).find((c) => c.name === name)
        : undefined;
      const bar = info ? progressBar(ctx.io, `restoring ${safe(name)}`, info.keyCount) : undefined;
      try {
        await state.restoreCheckpoint(name);
        bar?.tick(info!.keyCount);
      } finally {
        bar?.done();
      }
      print(ctx, `Restored from: ${safe(name)}`, { restored: name });
    },
  },
  diff: {
    summary: "Show keys added (+), removed (-) and changed (~) since a checkpoint",
    usage: "diff --from after_planning [--to after_build]",
    options: {
      from: { type: "string", help: "the older checkpoint" },
      to: { type: "string", help: "the newer checkpoint (default: the current state)" },
    },
    async run(ctx) {
      const from = required(ctx.values, "from");
      const to = ctx.values.to;
      validateCheckpointName(from);
      if (typeof to === "string") validateCheckpointName(to);
      await using state = await openState(ctx.settings);
      const d = await state.diffCheckpoint(from, typeof to === "string" ? to : undefined);
      const lines = [
        ...d.added.map((k) => `+ ${safe(k)}`),
        ...d.removed.map((k) => `- ${safe(k)}`),
        ...d.changed.map((k) => `~ ${safe(k)}`),
      ];
      if (ctx.json) return print(ctx, "", d);
      if (lines.length) ctx.io.out(lines.join("\n"));
      else ctx.io.err("no differences");
    },
  },
  recover: {
    summary: "Clean up after a crash and repair damaged files",
    usage: "recover",
    options: {},
    async run(ctx) {
      // StateManager.recover(), not open(): opening a damaged namespace fails, which is the point here.
      const { settings } = ctx;
      const report = await StateManager.recover({
        ...locationOf(settings),
        backend: settings.backend,
        namespace: settings.namespace,
      });
      print(
        ctx,
        report.actions.length ? report.actions.join("\n") : "nothing to recover",
        report,
      );
    },
  },
  namespaces: {
    summary: "List namespaces that hold keys or checkpoints",
    usage: "namespaces",
    options: {},
    async run(ctx) {
      await using state = await openState(ctx.settings);
      const names = await state.listNamespaces();
      if (ctx.json) return print(ctx, "", names);
      if (names.length) ctx.io.out(names.join("\n"));
    },
  },
  info: {
    summary: "Show the backend, where its data is, and counts and sizes",
    usage: "info",
    options: {},
    async run(ctx) {
      await using state = await openState(ctx.settings);
      const info = await gatherInfo(state, ctx.settings);
      const human: Record<string, string> = {
        ...Object.fromEntries(Object.entries(info).map(([k, v]) => [k, String(v ?? "-")])),
        bytes: formatBytes(info.bytes),
        checkpointBytes: formatBytes(info.checkpointBytes),
        diskBytes: info.diskBytes === null ? "-" : formatBytes(info.diskBytes),
      };
      print(ctx, table(Object.entries(human).map(([k, v]) => [`${k}:`, v])), info);
    },
  },
};

Object.assign(COMMANDS, MIGRATE_COMMANDS, STEP_COMMANDS, UI_COMMANDS, { mcp: MCP_COMMAND });
