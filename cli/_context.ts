// What every CLI command shares: its context and output sink, and the small
// helpers that turn settings and flags into calls and results into text.
import { StateManager } from "../state_manager.ts";
import { compareKeys } from "../core/_keys.ts";
import type { BackendLocation } from "../backends/_locations.ts";
import type { OpenOptions } from "../options.ts";
import type { Settings } from "./_config.ts";
import { UsageError } from "./_usage.ts";

/** Where a command writes. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  stdin(): Promise<string>;
  stderrIsTty: boolean;
  /** How long an operation runs before its progress bar shows (ms); tests set 0. Default 200. */
  progressDelayMs?: number;
}

/** Parsed options of one command. */
export type Values = Record<string, string | boolean | undefined>;

/** What a command gets. */
export interface Ctx {
  settings: Settings;
  values: Values;
  json: boolean;
  io: Io;
  /** The arguments after `--`, for a command that takes a command line (`passthrough`). */
  passthrough?: string[];
}

/** A command: its options (beyond the global ones), help text and action. */
export interface Command {
  summary: string;
  usage: string;
  options: Record<string, { type: "string" | "boolean"; help: string }>;
  /** Whether the arguments after `--` are passed to the command unparsed. */
  passthrough?: boolean;
  /** Runs the command; a number is its exit code (default 0). */
  run(ctx: Ctx): Promise<void | number>;
}

/** Where the settings say the data is (the backend opener maps a KV Connect `url`). */
export function locationOf(settings: Settings): BackendLocation {
  const location: Record<string, string> = { dir: settings.dir };
  if (settings.path !== undefined) location.path = settings.path;
  if (settings.url !== undefined) location.url = settings.url;
  return location;
}

/** The `StateManager.open()` options the resolved settings name. */
export function openOptions(settings: Settings): OpenOptions {
  // The name comes from the command line, unchecked by the compiler: open()
  // refuses an unknown one at run time, and ignores options of other backends.
  return {
    ...locationOf(settings),
    backend: settings.backend,
    namespace: settings.namespace,
  } as OpenOptions;
}

/** Opens a manager on the resolved settings. */
export function openState(settings: Settings): Promise<StateManager> {
  return StateManager.open(openOptions(settings));
}

/** The value of a required string flag. */
export function required(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`Missing --${name}`);
  return v;
}

/**
 * Prints `human`, or `json` as JSON under `--json` (exact, never escaped).
 * Human text goes through {@linkcode safe}, keeping its line breaks: put
 * names in it with `safe(name)`, so a name cannot add a line either.
 */
export function print(ctx: Ctx, human: string, json: unknown): void {
  ctx.io.out(ctx.json ? JSON.stringify(json, null, 2) : safe(human, true));
}

/** Control characters, Unicode line separators and direction overrides. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text safe for a terminal: control characters (escape sequences, carriage
 * returns, line breaks unless `keepNewlines`), DEL and C1 codes, line
 * separators and bidirectional overrides are shown as `\xNN` or `\u{NNNN}`,
 * so a key or name cannot move the cursor, retitle the window or fake a line.
 */
export function safe(text: string, keepNewlines = false): string {
  return text.replace(UNSAFE, (c) => {
    if (keepNewlines && c === "\n") return c;
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u{${n.toString(16)}}`;
  });
}

/**
 * JSON text safe for a terminal, still the same JSON: the characters
 * {@linkcode safe} escapes, which JSON.stringify leaves raw (DEL, C1,
 * separators, overrides) and which JSON text holds only inside strings,
 * become `\uNNNN` escapes.
 */
export function safeJson(text: string): string {
  return text.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const UNSAFE_IN_JSON = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Bytes as B, KiB or MiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Rows as aligned columns; every cell goes through {@linkcode safe}. */
export function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map((c) => safe(c)));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

/**
 * An object as indented JSON with its keys in UTF-8 byte order (JavaScript
 * would put keys such as "2" and "10" first), so the same state prints the
 * same from every backend.
 */
export function orderedJson(doc: Record<string, unknown>): string {
  const keys = Object.keys(doc).sort(compareKeys);
  if (keys.length === 0) return "{}";
  const body = keys.map((k) =>
    `  ${JSON.stringify(k)}: ${JSON.stringify(doc[k], null, 2).replaceAll("\n", "\n  ")}`
  );
  return `{\n${body.join(",\n")}\n}`;
}

/** A flag's value as a positive integer, or a usage error. */
export function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer`);
  return n;
}
