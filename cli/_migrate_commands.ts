// The CLI's migrate, export and import commands.
// migrate.ts is loaded only when one of these commands runs, to keep start-up short.
import type { Endpoint, MigrationReport, ProgressEvent } from "../migrate/mod.ts";
import { StateError } from "../errors.ts";
import { type Command, type Ctx, formatBytes, type Io, locationOf, print } from "./_context.ts";
import { progressBar } from "./_progress.ts";
import { UsageError } from "./_usage.ts";

const SIDE_OPTIONS = (side: "from" | "to") =>
  ({
    [`${side}-dir`]: { type: "string", help: `state folder of the ${side} side (default: --dir)` },
    [`${side}-path`]: { type: "string", help: `SQLite file or Deno KV path of the ${side} side` },
    [`${side}-url`]: {
      type: "string",
      help: `Redis, PostgreSQL or KV Connect URL of the ${side} side`,
    },
  }) as Command["options"];

function endpoint(ctx: Ctx, side: "from" | "to", backend: string): Endpoint {
  const v = ctx.values;
  const str = (name: string) => (typeof v[name] === "string" ? v[name] as string : undefined);
  const e: Record<string, unknown> = {
    backend,
    dir: str(`${side}-dir`) ?? ctx.settings.dir,
  };
  const path = str(`${side}-path`);
  const url = str(`${side}-url`);
  if (path !== undefined) e.path = path;
  if (url !== undefined) e.url = url;
  if (v["keep-ttl"] === true && side === "from") {
    if (backend !== "legacy-redis") {
      throw new UsageError("--keep-ttl applies to --from legacy-redis only");
    }
    e.keepTtl = true;
  }
  // Names and fields come from the command line: migrate() checks them at run time.
  return e as unknown as Endpoint;
}

/** Only the namespace given as a flag limits a migration; a saved default does not. */
function namespaces(ctx: Ctx): string[] | undefined {
  return typeof ctx.values.namespace === "string" ? [ctx.values.namespace] : undefined;
}

/** A progress bar per namespace, fed by migration events (drawn only on a terminal). */
export function migrationProgress(io: Io, label: string) {
  let bar: ReturnType<typeof progressBar> | undefined;
  let current = "";
  let done = 0;
  return {
    onProgress(e: ProgressEvent) {
      if (e.phase !== "keys" || e.total === undefined) return;
      if (current !== e.namespace) {
        bar?.done();
        bar = progressBar(io, `${label} ${e.namespace}`, e.total);
        current = e.namespace;
        done = 0;
      }
      bar!.tick(e.done - done);
      done = e.done;
    },
    done: () => bar?.done(),
  };
}

/** Up to five names, quoted, then how many more. */
function some(names: string[]): string {
  const shown = names.slice(0, 5).map((k) => JSON.stringify(k)).join(", ");
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

function summary(verb: string, r: MigrationReport): string {
  const notes = r.namespaces.flatMap((n) => [
    ...(n.renamedFrom === undefined
      ? []
      : [`namespace ${JSON.stringify(n.renamedFrom)} is ${n.namespace} here`]),
    ...(n.ttlsDropped
      ? [
        `${n.ttlsDropped} keys in ${n.namespace} were copied without their expiry ` +
        "(--keep-ttl keeps it)",
      ]
      : []),
    ...(n.expiredBeforeRead.length
      ? [
        `${n.expiredBeforeRead.length} keys in ${n.namespace} expired before they could be ` +
        `copied: ${some(n.expiredBeforeRead)}`,
      ]
      : []),
  ]);
  const skipped = r.namespaces.flatMap((n) => [
    ...n.skippedKeys.map((k) =>
      `skipped key ${JSON.stringify(k)} in ${n.namespace}: it differs in the target`
    ),
    ...n.skippedCheckpoints.map((c) =>
      `skipped checkpoint ${JSON.stringify(c)} in ${n.namespace}: it differs in the target`
    ),
  ]);
  const head =
    `${r.dryRun ? "Would copy" : verb} ${r.namespaces.length} namespaces, ${r.keys} keys ` +
    `(${r.written} written), ${r.checkpoints} checkpoints, ${
      formatBytes(r.bytes)
    } from ${r.from} ` +
    `to ${r.to} in ${r.seconds.toFixed(1)} s${
      r.dryRun ? " (dry run: nothing written)" : "; verified"
    }`;
  return [head, ...notes, ...skipped].join("\n");
}

async function withProgress<T>(
  ctx: Ctx,
  label: string,
  fn: (onProgress: (e: ProgressEvent) => void) => Promise<T>,
) {
  const p = migrationProgress(ctx.io, label);
  try {
    return await fn((e) => p.onProgress(e));
  } catch (error) {
    // With --json, a failed verification still prints its report (what differs) on stdout.
    if (ctx.json && error instanceof StateError && error.code === "VERIFICATION") {
      print(ctx, "", (error as StateError & { report: MigrationReport }).report);
    }
    throw error;
  } finally {
    p.done();
  }
}

/** migrate, export and import. */
export const MIGRATE_COMMANDS: Record<string, Command> = {
  migrate: {
    summary: "Copy every namespace, key and checkpoint to another backend, verified",
    usage:
      "migrate --from json --to sqlite [--namespace wf] [--dry-run] [--overwrite] [--keep-ttl]",
    options: {
      from: {
        type: "string",
        help: "source backend (also legacy-json, legacy-sqlite, legacy-redis)",
      },
      to: { type: "string", help: "target backend" },
      "keep-ttl": {
        type: "boolean",
        help: "legacy-redis: copy each key's remaining expiry (default: drop it, and report)",
      },
      "dry-run": { type: "boolean", help: "report what would be copied; write nothing" },
      overwrite: { type: "boolean", help: "replace target data that differs" },
      ...SIDE_OPTIONS("from"),
      ...SIDE_OPTIONS("to"),
    },
    async run(ctx) {
      const from = ctx.values.from;
      const to = ctx.values.to;
      if (typeof from !== "string" || typeof to !== "string") {
        throw new UsageError("Give both --from and --to (e.g. migrate --from json --to sqlite)");
      }
      const { migrate } = await import("../migrate/mod.ts");
      const report = await withProgress(ctx, "migrating", (onProgress) =>
        migrate({
          from: endpoint(ctx, "from", from),
          to: endpoint(ctx, "to", to),
          ...(namespaces(ctx) ? { namespaces: namespaces(ctx)! } : {}),
          dryRun: ctx.values["dry-run"] === true,
          overwrite: ctx.values.overwrite === true,
          onProgress,
        }));
      print(ctx, summary("Migrated", report), report);
    },
  },
  export: {
    summary: "Write namespaces and their checkpoints to a portable JSON Lines file",
    usage: "export --file state.jsonl [--namespace wf]",
    options: { file: { type: "string", help: 'the file to write; "-" for stdout' } },
    async run(ctx) {
      const file = ctx.values.file;
      if (typeof file !== "string") throw new UsageError("Missing --file");
      const from = { backend: ctx.settings.backend, ...locationOf(ctx.settings) } as Endpoint;
      const { exportState } = await import("../migrate/mod.ts");
      const totals = await withProgress(ctx, "exporting", (onProgress) =>
        exportState({
          from,
          // Streamed: each line goes out as it is read.
          to: file === "-" ? (line) => ctx.io.out(line.slice(0, -1)) : file,
          ...(namespaces(ctx) ? { namespaces: namespaces(ctx)! } : {}),
          onProgress,
        }));
      if (file === "-") return;
      print(
        ctx,
        `Exported ${totals.namespaces} namespaces, ${totals.keys} keys, ${totals.checkpoints} checkpoints to ${file}`,
        { file, ...totals },
      );
    },
  },
  import: {
    summary: "Read an export file into the backend, verified",
    usage: "import --file state.jsonl [--dry-run] [--overwrite]",
    options: {
      file: { type: "string", help: "the export file to read" },
      "dry-run": { type: "boolean", help: "report what would be copied; write nothing" },
      overwrite: { type: "boolean", help: "replace data that differs" },
    },
    async run(ctx) {
      const file = ctx.values.file;
      if (typeof file !== "string") throw new UsageError("Missing --file");
      const to = { backend: ctx.settings.backend, ...locationOf(ctx.settings) } as Endpoint;
      const { importState } = await import("../migrate/mod.ts");
      const report = await withProgress(ctx, "importing", (onProgress) =>
        importState({
          from: file,
          to,
          dryRun: ctx.values["dry-run"] === true,
          overwrite: ctx.values.overwrite === true,
          onProgress,
        }));
      print(ctx, summary("Imported", report), report);
    },
  },
};
