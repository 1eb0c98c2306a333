// migrate(), exportState() and importState(): open the two ends, copy each
// namespace (./_copy.ts), verify it, and report. The entry is ./mod.ts.
import { createWriteStream, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  BACKEND_NAMES,
  type BackendLocation,
  type NamedBackendOptions,
} from "../backends/_locations.ts";
import { openBackend } from "../backends/_open.ts";
import { BackendError, StateError, ValidationError } from "../errors.ts";
import { checkExportFile, exportFileSource, writeExport } from "./_export_format.ts";
import { type LegacyKind, legacySource } from "./_legacy.ts";
import { copyNamespace, type NamespaceReport, type ProgressEvent } from "./_copy.ts";
import { backendSource, type Source } from "./_source.ts";
import type { Backend } from "../types.ts";
import { validateNamespace } from "../core/_validate.ts";

export type { NamespaceReport, ProgressEvent };

/**
 * A backend object, or how to open one: `{ backend: "sqlite", path }`,
 * `{ backend: "json", dir }`, ... (typed per backend, as `StateManager.open()`
 * takes them), or the Python reference implementation's data as a source.
 */
export type Endpoint = Backend | NamedBackendOptions | LegacyFileEndpoint | LegacyRedisEndpoint;

/** The Python reference implementation's files, as a migration source: `{ backend: "legacy-json", dir }`. */
export interface LegacyFileEndpoint {
  /** "legacy-json" or "legacy-sqlite". */
  backend: "legacy-json" | "legacy-sqlite";
  /** Its state folder. Default ".claude/state". */
  dir?: string;
}

/**
 * The Python reference implementation's Redis data, as a migration source:
 * `{ backend: "legacy-redis", url }`. A URL that names a Cluster node is read
 * as a Cluster (every master).
 */
export interface LegacyRedisEndpoint
  extends Pick<BackendLocation, "url" | "client" | "cluster" | "redisOptions" | "clusterOptions"> {
  /** Always "legacy-redis". */
  backend: "legacy-redis";
  /**
   * Copy each key's remaining expiry (the reference set 24 hours on every
   * save). Default false: keys are copied without it, and the report counts
   * them (`ttlsDropped`).
   */
  keepTtl?: boolean;
}

/** Options of {@linkcode migrate}. */
export interface MigrateOptions {
  /**
   * Where to read: an endpoint, or the Python implementation's data:
   * `{ backend: "legacy-json" | "legacy-sqlite", dir }` for its files,
   * `{ backend: "legacy-redis", url }` for its Redis. Never written.
   */
  from: Endpoint;
  /** Where to write. */
  to: Endpoint;
  /** Only these namespaces (default: all); for legacy-redis, the reference's names (":" allowed). */
  namespaces?: string[];
  /** Report what would be copied; write nothing. */
  dryRun?: boolean;
  /** Replace target keys and checkpoints that differ, and delete target-only keys. Default false. */
  overwrite?: boolean;
  /** Called as keys and checkpoints are copied. */
  onProgress?: (event: ProgressEvent) => void;
}

/** What a migration (or import) did. */
export interface MigrationReport {
  /** The source's name. */
  from: string;
  /** The target's name. */
  to: string;
  /** Whether nothing was written. */
  dryRun: boolean;
  /** One report per namespace. */
  namespaces: NamespaceReport[];
  /** Keys in the source, over all namespaces. */
  keys: number;
  /** Keys written (or that would be). */
  written: number;
  /** Checkpoints in the source. */
  checkpoints: number;
  /** Bytes of keys and values in the source. */
  bytes: number;
  /** How long it took. */
  seconds: number;
  /** Whether every namespace's copy matches its source (false in a dry run). */
  verified: boolean;
}

/** The copy does not match its source; `report` says what differs. */
export class VerificationError extends StateError {
  /** The full report. */
  readonly report: MigrationReport;

  /** Creates the error from a report. */
  constructor(report: MigrationReport) {
    const bad = report.namespaces.filter((n) => !n.verified);
    const parts = bad.map((n) => {
      const what = [
        count(n.missingKeys, "keys missing from the target"),
        count(n.mismatchedKeys, "keys that differ after writing"),
        count(n.skippedKeys, "differing keys kept"),
        count(n.extraKeys, "keys only in the target"),
        count(n.checkpointMismatches, "checkpoints missing or differing after writing"),
        count(n.skippedCheckpoints, "differing checkpoints kept"),
      ].filter(Boolean);
      // The key lists cover every difference the content hash can see (verify.ts).
      return `namespace ${JSON.stringify(n.namespace)}: ${what.join("; ")}`;
    });
    const kept = bad.some((n) =>
      n.skippedKeys.length + n.extraKeys.length + n.skippedCheckpoints.length > 0
    );
    super(
      "VERIFICATION",
      `The copy in ${report.to} does not match ${report.from}: ${parts.join(" | ")}. ` +
        (kept
          ? "Run again with overwrite to replace what differs in the target"
          : "Run again; if it still differs, the target does not store what it is given"),
    );
    this.report = report;
  }
}

function count(names: string[], what: string): string {
  return names.length ? `${names.length} ${what} (${list(names)})` : "";
}

function list(names: string[]): string {
  const shown = names.slice(0, 5).map((n) => JSON.stringify(n)).join(", ");
  return names.length > 5 ? `${shown}, ...` : shown;
}

/**
 * Copies namespaces from one backend to another and verifies the copy.
 * Re-running is safe: equal keys and checkpoints are skipped. Throws
 * {@linkcode VerificationError} when the target does not match afterwards.
 */
export async function migrate(options: MigrateOptions): Promise<MigrationReport> {
  if (!isLegacyRedis(options.from)) validateNames(options.namespaces);
  checkTarget(options.to);
  return await copyInto(await openSource(options.from, options.namespaces), options.to, options);
}

/** Options of {@linkcode exportState}. */
export interface ExportOptions {
  /** Where to read. */
  from: Endpoint;
  /** The file to write (JSON Lines), or a function that receives each line. */
  to: string | ((line: string) => void | Promise<void>);
  /** Only these namespaces. */
  namespaces?: string[];
  /** Called as keys are written. */
  onProgress?: (event: ProgressEvent) => void;
}

/** Writes namespaces with their checkpoints to a portable JSON Lines file. */
export async function exportState(
  options: ExportOptions,
): Promise<{ namespaces: number; keys: number; checkpoints: number }> {
  if (!isLegacyRedis(options.from)) validateNames(options.namespaces);
  if (typeof options.to === "string") checkExportPath(options.to);
  const source = await openSource(options.from, options.namespaces);
  try {
    if (typeof options.to === "function") {
      return await writeExport(source, options.to, options.onProgress);
    }
    const file = options.to;
    const stream = createWriteStream(file, { mode: 0o600 });
    // Every stream error reaches the caller (an unheard 'error' event would end the process).
    let failed: Error | undefined;
    stream.on("error", (e) => (failed ??= e));
    const cannot = (e: Error) =>
      new BackendError(`Cannot write export file ${file}: ${e.message}`, { cause: e });
    const write = (line: string) => {
      if (failed) throw cannot(failed);
      if (stream.write(line)) return undefined;
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          stream.off("drain", done);
          stream.off("error", done);
          if (failed) reject(cannot(failed));
          else resolve();
        };
        stream.on("drain", done);
        stream.on("error", done);
      });
    };
    try {
      return await writeExport(source, write, options.onProgress);
    } finally {
      await new Promise<void>((resolve, reject) => {
        if (failed) {
          stream.destroy();
          return reject(cannot(failed));
        }
        stream.end((e?: Error | null) => {
          const error = e ?? failed;
          if (error) reject(cannot(error));
          else resolve();
        });
      });
    }
  } finally {
    await source.close();
  }
}

/** Refuses, before anything is opened, an export path whose folder is missing or that is a folder. */
function checkExportPath(file: string): void {
  let folder;
  try {
    folder = statSync(dirname(resolve(file)));
  } catch {
    folder = undefined;
  }
  if (!folder?.isDirectory()) {
    throw new ValidationError(
      `Cannot write export file ${file}: the folder ${dirname(file)} does not exist`,
    );
  }
  try {
    if (statSync(file).isDirectory()) {
      throw new ValidationError(`Cannot write export file ${file}: it is a folder`);
    }
  } catch (error) {
    if (error instanceof ValidationError) throw error; // else: no such file yet, as expected
  }
}

/** Options of {@linkcode importState}. */
export interface ImportOptions {
  /** The export file to read. */
  from: string;
  /** Where to write. */
  to: Endpoint;
  /** Report what would be imported; write nothing. */
  dryRun?: boolean;
  /** Replace data that differs. */
  overwrite?: boolean;
  /** Called as keys and checkpoints are imported. */
  onProgress?: (event: ProgressEvent) => void;
}

/**
 * Reads an export file into a backend, verified like a migration. Every line
 * is checked (as save() checks values) before anything is written.
 */
export async function importState(options: ImportOptions): Promise<MigrationReport> {
  checkTarget(options.to);
  await checkExportFile(options.from);
  return await copyInto(exportFileSource(options.from), options.to, options);
}

/** Opens the target, copies the source into it, and closes both. */
async function copyInto(
  source: Source,
  to: Endpoint,
  options: { dryRun?: boolean; overwrite?: boolean; onProgress?: (e: ProgressEvent) => void },
): Promise<MigrationReport> {
  try {
    const { backend: target, close } = await openEndpoint(to);
    try {
      return await copyAll(source, target, options);
    } finally {
      await close();
    }
  } finally {
    await source.close();
  }
}

async function copyAll(
  source: Source,
  target: Backend,
  options: { dryRun?: boolean; overwrite?: boolean; onProgress?: (e: ProgressEvent) => void },
): Promise<MigrationReport> {
  const start = performance.now();
  const since = Date.now();
  const report: MigrationReport = {
    from: source.name,
    to: target.name,
    dryRun: options.dryRun ?? false,
    namespaces: [],
    keys: 0,
    written: 0,
    checkpoints: 0,
    bytes: 0,
    seconds: 0,
    verified: false,
  };
  for await (const ns of source.namespaces()) {
    const r = await copyNamespace(ns, target, {
      dryRun: options.dryRun ?? false,
      overwrite: options.overwrite ?? false,
      since,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    report.namespaces.push(r);
    report.keys += r.keys;
    report.written += r.written;
    report.checkpoints += r.checkpoints;
    report.bytes += r.bytes;
  }
  report.seconds = (performance.now() - start) / 1000;
  report.verified = !report.dryRun && report.namespaces.every((n) => n.verified);
  if (!report.dryRun && !report.verified) throw new VerificationError(report);
  return report;
}

function validateNames(names: unknown): void {
  if (names === undefined) return;
  if (!Array.isArray(names)) throw new ValidationError("namespaces must be an array of names");
  names.forEach((n) => validateNamespace(n));
}

/**
 * An end as the run-time checks see it: callers without the types (the CLI,
 * JavaScript) may pass any name and any location field.
 */
type LooseEndpoint = Backend | Location | LegacyRedisEndpoint;
type Location = BackendLocation & { backend: string };

async function openSource(from: LooseEndpoint, names: string[] | undefined): Promise<Source> {
  if (isLegacyRedis(from)) {
    // Loaded here: it needs ioredis, which only Redis users install. A variable specifier
    // keeps it and ioredis out of the module graph Deno builds at every start (it needs read
    // access to this file then, which a process that reaches Redis has).
    const specifier = "./_legacy_redis.ts";
    const { legacyRedisSource } = await (import(specifier) as Promise<
      typeof import("./_legacy_redis.ts")
    >);
    const { backend: _b, ...options } = from;
    return await legacyRedisSource(
      names === undefined ? options : { ...options, namespaces: names },
    );
  }
  if (isLocation(from) && (from.backend === "legacy-json" || from.backend === "legacy-sqlite")) {
    return legacySource(from.backend as LegacyKind, from.dir ?? ".claude/state", names);
  }
  if (isLocation(from) && (from as { keepTtl?: unknown }).keepTtl !== undefined) {
    throw new ValidationError("keepTtl applies to the legacy-redis source only");
  }
  const { backend, close } = await openEndpoint(from);
  return backendSource(backend, names, close);
}

function isLocation(e: LooseEndpoint): e is Location | LegacyRedisEndpoint {
  return typeof (e as { backend?: unknown }).backend === "string";
}

function isLegacyRedis(e: LooseEndpoint): e is LegacyRedisEndpoint {
  return (e as { backend?: unknown }).backend === "legacy-redis";
}

/** Refuses a target that names no backend before the source is opened, so nothing is opened for nothing. */
function checkTarget(to: LooseEndpoint): void {
  if (!isLocation(to) || (BACKEND_NAMES as readonly string[]).includes(to.backend)) return;
  throw new ValidationError(
    /^legacy-/.test(to.backend)
      ? `${to.backend} is a source only: migrate from it to one of ${BACKEND_NAMES.join(", ")}`
      : `Unknown backend ${JSON.stringify(to.backend)}: use one of ${BACKEND_NAMES.join(", ")}`,
  );
}

async function openEndpoint(
  e: LooseEndpoint,
): Promise<{ backend: Backend; close: () => Promise<void> }> {
  if (!isLocation(e)) return { backend: e, close: () => Promise.resolve() };
  const { backend: name, ...location } = e;
  const backend = await openBackend(name, location);
  return { backend, close: () => backend.close() };
}
