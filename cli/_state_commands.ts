// The CLI's commands on keys and values: init, save, load, delete, keys, dump.
import { env } from "../backends/_sys_platform.ts";
import { validateCheckpointName, validateKey } from "../core/_validate.ts";
import { validateListOptions } from "../core/_validate_options.ts";
import { compareKeys } from "../core/_keys.ts";
import { configToSave, ENV, writeConfig } from "./_config.ts";
import {
  type Command,
  type Ctx,
  openState,
  orderedJson,
  positiveInt,
  print,
  required,
  safe,
  safeJson,
} from "./_context.ts";
import { NotFoundError } from "./_errors.ts";
import { storeIsMissing } from "./_info.ts";
import {
  given,
  parseLoose,
  readValue,
  readValues,
  ttl,
  TTL_OPTION,
  VALUE_OPTIONS,
} from "./_input.ts";
import { UsageError } from "./_usage.ts";
import type { StateManager } from "../state_manager.ts";

/** Keys per page when `keys` lists a whole namespace. */
const KEYS_PAGE = 1000;

/** Prints a JSON value: exact under --json, terminal-safe otherwise. */
function printValue(ctx: Ctx, text: string): void {
  ctx.io.out(ctx.json ? text : safeJson(text));
}

/** `--if-version` / `--if-absent` as write conditions (one at most). */
function conditions(ctx: Ctx): { ifVersion?: string; ifAbsent?: boolean } {
  const version = ctx.values["if-version"];
  const absent = ctx.values["if-absent"] === true;
  if (typeof version === "string" && absent) {
    throw new UsageError("Give --if-version or --if-absent, not both");
  }
  if (version === "") {
    throw new UsageError("--if-version needs a version (from load --with-version)");
  }
  if (typeof version === "string") return { ifVersion: version };
  return absent ? { ifAbsent: true } : {};
}

/** init, save, load, delete, keys and dump. */
export const STATE_COMMANDS: Record<string, Command> = {
  init: {
    summary: "Choose the backend and namespace for later commands",
    usage: "init --backend json --namespace workflow-123",
    options: {},
    async run(ctx) {
      // A URL from the environment stays there (it may hold a password).
      const urlFromEnv = ctx.values.url === undefined && !!env(ENV.url);
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
    summary: "Save a value, or several keys at once; optionally only if absent or unchanged",
    usage: 'save --key phase --value building | save --values \'{"a": 1, "b": [2]}\'',
    options: {
      key: { type: "string", help: "the key" },
      ...VALUE_OPTIONS,
      values: {
        type: "string",
        help: 'several keys in one atomic write: a JSON object; "-" reads stdin',
      },
      "values-file": { type: "string", help: 'read --values from a file; "-" is stdin' },
      "if-absent": { type: "boolean", help: "write only if the key (every key) does not exist" },
      "if-version": {
        type: "string",
        help: "write only if the key is at this version (load --with-version)",
      },
      ...TTL_OPTION,
    },
    async run(ctx) {
      const many = given(ctx.values, "values", "values-file");
      const cond = conditions(ctx);
      const options = ttl(ctx.values);
      // Checked before the store is opened, so a usage error writes nothing.
      if (many) {
        if (given(ctx.values, "key", "value", "value-file", "string")) {
          throw new UsageError(
            "--values takes the keys with it: give no --key, --value or --string",
          );
        }
        if (given(ctx.values, "values") && given(ctx.values, "values-file")) {
          throw new UsageError("Give --values or --values-file, not both");
        }
        if (cond.ifVersion !== undefined) {
          throw new UsageError("--if-version checks one key: use --key and --value");
        }
        const doc = await readValues(ctx);
        await using state = await openState(ctx.settings);
        await state.saveMany(doc, { ...options, ...cond });
        const keys = Object.keys(doc).sort(compareKeys);
        return print(ctx, `Saved ${keys.map((k) => safe(k)).join(", ")}`, { keys, saved: true });
      }
      const key = required(ctx.values, "key");
      validateKey(key);
      const value = await readValue(ctx);
      await using state = await openState(ctx.settings);
      await state.save(key, value, { ...options, ...cond });
      print(ctx, `Saved ${safe(key)}`, { key, saved: true });
    },
  },
  load: {
    summary: "Print a value as JSON (now, or as it was in a checkpoint)",
    usage: "load --key phase [--with-version] [--checkpoint after_planning]",
    options: {
      key: { type: "string", help: "the key" },
      default: {
        type: "string",
        help: "print this (JSON or string) instead of failing when missing",
      },
      "with-version": {
        type: "boolean",
        help: "print {key, value, version, expiresAt}: the version is for save --if-version",
      },
      checkpoint: {
        type: "string",
        help: "read the value from this checkpoint (restores nothing)",
      },
    },
    async run(ctx) {
      const key = required(ctx.values, "key");
      validateKey(key);
      const { checkpoint, default: fallback } = ctx.values;
      const withVersion = ctx.values["with-version"] === true;
      if (typeof checkpoint === "string") {
        if (withVersion) {
          throw new UsageError("--with-version reads the live key: drop --checkpoint");
        }
        validateCheckpointName(checkpoint);
      }
      await using state = await openState(ctx.settings);
      if (typeof checkpoint === "string") {
        const all = await state.readCheckpoint(checkpoint, { prefix: key });
        if (Object.hasOwn(all, key)) return printValue(ctx, JSON.stringify(all[key], null, 2));
        if (typeof fallback === "string") {
          return printValue(ctx, JSON.stringify(parseLoose(fallback), null, 2));
        }
        throw new NotFoundError(
          `Key ${JSON.stringify(key)} is not in checkpoint ${JSON.stringify(checkpoint)} of ` +
            `namespace ${JSON.stringify(state.namespace)}. Run "dump --checkpoint ${checkpoint}" ` +
            `to see what it holds.`,
        );
      }
      if (withVersion) {
        const entry = await state.getEntry(key);
        if (entry === null && typeof fallback !== "string") await state.load(key); // throws not found
        const doc = entry ??
          { key, value: parseLoose(fallback as string), version: null, expiresAt: null };
        return printValue(ctx, JSON.stringify(doc, null, 2));
      }
      const value = typeof fallback === "string"
        ? await state.load(key, parseLoose(fallback))
        : await state.load(key);
      printValue(ctx, JSON.stringify(value, null, 2));
    },
  },
  delete: {
    summary: "Delete a key, a checkpoint, or a whole namespace (with --yes)",
    usage: "delete --key phase [--if-version V] | delete --checkpoint after_planning | " +
      "delete --namespace wf --yes",
    options: {
      key: { type: "string", help: "the key to delete" },
      "if-version": { type: "string", help: "delete the key only if it is at this version" },
      checkpoint: { type: "string", help: "the checkpoint to delete" },
      yes: {
        type: "boolean",
        help: "with --namespace and no --key or --checkpoint: delete every key and checkpoint",
      },
    },
    async run(ctx) {
      const { key, checkpoint } = ctx.values;
      if (typeof key === "string" && typeof checkpoint === "string") {
        throw new UsageError("Give one of --key, --checkpoint or --namespace --yes");
      }
      if (typeof key !== "string" && given(ctx.values, "if-version")) {
        throw new UsageError("--if-version goes with --key");
      }
      if (typeof key === "string" || typeof checkpoint === "string") {
        if (ctx.values.yes === true) {
          throw new UsageError(
            "--yes deletes a whole namespace: give it without --key or --checkpoint",
          );
        }
      } else if (typeof ctx.values.namespace !== "string") {
        // Never the namespace from init or the environment: deleting one is named on the line.
        throw new UsageError(
          "Give --key, --checkpoint, or --namespace NS --yes to delete a namespace",
        );
      }
      if (typeof key === "string") validateKey(key);
      if (typeof checkpoint === "string") validateCheckpointName(checkpoint);
      // Before opening: a usage error writes nothing (opening may create the store).
      const when = typeof key === "string" ? conditions(ctx) : {};
      if (
        typeof key !== "string" && typeof checkpoint !== "string" && storeIsMissing(ctx.settings)
      ) {
        // Nothing on disk: say so without opening (opening would create an empty store).
        return confirmDelete(ctx, ctx.settings.namespace, 0, 0);
      }
      await using state = await openState(ctx.settings);
      if (typeof key === "string") {
        await state.delete(key, when);
        print(ctx, `Deleted ${safe(key)}`, { key, deleted: true });
      } else if (typeof checkpoint === "string") {
        await state.deleteCheckpoint(checkpoint);
        print(ctx, `Deleted checkpoint: ${safe(checkpoint)}`, { checkpoint, deleted: true });
      } else {
        await deleteNamespace(ctx, state);
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
  dump: {
    summary: "Print the whole namespace (or a checkpoint) as one JSON object, keys in byte order",
    usage: "dump [--prefix task:] [--checkpoint after_planning]",
    options: {
      prefix: { type: "string", help: "only keys starting with this" },
      checkpoint: { type: "string", help: "dump this checkpoint instead (restores nothing)" },
    },
    async run(ctx) {
      const { prefix, checkpoint } = ctx.values;
      if (typeof checkpoint === "string") validateCheckpointName(checkpoint);
      const options = typeof prefix === "string" ? { prefix } : {};
      await using state = await openState(ctx.settings);
      const doc = typeof checkpoint === "string"
        ? await state.readCheckpoint(checkpoint, options)
        : await state.dump(options);
      printValue(ctx, orderedJson(doc));
    },
  },
};

/** Deletes the namespace's keys and checkpoints (`delete --namespace NS --yes`). */
async function deleteNamespace(ctx: Ctx, state: StateManager): Promise<void> {
  let keys = 0;
  let cursor: string | null = null;
  do {
    const page: { keys: string[]; cursor: string | null } = await state.listKeys({
      limit: KEYS_PAGE,
      ...(cursor === null ? {} : { cursor }),
    });
    keys += page.keys.length;
    cursor = page.cursor;
  } while (cursor !== null);
  const checkpoints = (await state.listCheckpoints()).length;
  await confirmDelete(ctx, state.namespace, keys, checkpoints, () => state.clear());
}

/** Without --yes, refuses and says what would go; with it, deletes (`clear`) and says what went. */
async function confirmDelete(
  ctx: Ctx,
  ns: string,
  keys: number,
  checkpoints: number,
  clear?: () => Promise<void>,
): Promise<void> {
  const what = `${count(keys, "key")} and ${count(checkpoints, "checkpoint")}`;
  if (ctx.values.yes !== true) {
    throw new UsageError(
      `This would delete namespace ${JSON.stringify(ns)}: ${what}. Add --yes to delete it`,
    );
  }
  await clear?.();
  print(ctx, `Deleted namespace ${ns}: ${what}`, {
    namespace: ns,
    deleted: true,
    keys,
    checkpoints,
  });
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}
