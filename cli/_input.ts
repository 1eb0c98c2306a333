// Values given to commands: from a flag, a file or stdin, as JSON or a plain
// string, and the small option parsers the write commands share. Everything
// here is checked before a store is opened, so a usage error writes nothing.
import { fs } from "../backends/_fs_platform.ts";
import { encodeValue, validateKey } from "../core/_validate.ts";
import type { Ctx, Values } from "./_context.ts";
import { UsageError } from "./_usage.ts";

const { readFileSync } = fs;

/** Options of a command that takes one value. */
export const VALUE_OPTIONS = {
  value: { type: "string", help: 'the value: JSON, else a string; "-" reads stdin' },
  "value-file": { type: "string", help: 'read the value (JSON) from a file; "-" is stdin' },
  string: { type: "boolean", help: "take the value as a string even if it looks like JSON" },
} as const;

/** The `--ttl-ms` option. */
export const TTL_OPTION = {
  "ttl-ms": { type: "string", help: "delete the key after this many milliseconds" },
} as const;

/** Reads the text of a file flag's value; "-" is stdin, which must not be empty. */
async function readSource(ctx: Ctx, flag: string, file: string): Promise<string> {
  if (file === "-") return await readStdin(ctx, flag);
  try {
    // As node:fs reads "utf8": a byte order mark is kept, bad bytes become U+FFFD.
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(readFileSync(file));
  } catch (error) {
    if ((error as Error).name === "NotCapable") throw error; // a permission, not a typo
    throw new UsageError(`Cannot read --${flag} ${file}: ${(error as Error).message}`);
  }
}

/** Stdin for `--<flag> -`; nothing there is a mistake, never an empty value. */
async function readStdin(ctx: Ctx, flag: string): Promise<string> {
  const text = await ctx.io.stdin();
  if (text.trim() === "") {
    throw new UsageError(
      `--${flag} - read nothing from stdin: pipe the value in (echo '"text"' | ... --${flag} -)`,
    );
  }
  return text;
}

/** Whether one of `names` was given. */
export function given(values: Values, ...names: string[]): boolean {
  return names.some((n) => values[n] !== undefined);
}

/** The value of `--value` or `--value-file` (exactly one), parsed and checked. */
export async function readValue(ctx: Ctx): Promise<unknown> {
  const { values } = ctx;
  const sources = ["value", "value-file"].filter((n) => values[n] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError("Give the value with exactly one of --value or --value-file");
  }
  const file = values["value-file"];
  let value: unknown;
  if (typeof file === "string") {
    const text = await readSource(ctx, "value-file", file);
    value = values.string
      ? text
      : parseJson(text, `--value-file ${file}`, "fix it or add --string");
  } else {
    let text = String(values.value);
    if (text === "-") text = await readStdin(ctx, "value");
    // Not JSON: a plain string, as the seed's CLI examples expect.
    value = values.string ? text : parseLoose(text);
  }
  encodeValue(value);
  return value;
}

/** The keys and values of `--values` or `--values-file`: one JSON object. */
export async function readValues(ctx: Ctx): Promise<Record<string, unknown>> {
  const { values } = ctx;
  const inline = values.values;
  const file = values["values-file"];
  let text: string;
  let where: string;
  if (typeof file === "string") {
    text = await readSource(ctx, "values-file", file);
    where = `--values-file ${file}`;
  } else {
    text = String(inline);
    if (text === "-") text = await readStdin(ctx, "values");
    where = "--values";
  }
  const doc = parseJson(text, where);
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new UsageError(`${where} must be a JSON object of key to value, e.g. '{"a": 1}'`);
  }
  const entries = Object.entries(doc);
  if (entries.length === 0) throw new UsageError(`${where} holds no keys`);
  for (const [key, value] of entries) {
    validateKey(key);
    encodeValue(value, `value[${JSON.stringify(key)}]`);
  }
  return doc as Record<string, unknown>;
}

/** JSON text, or a usage error that says where it came from. */
export function parseJson(text: string, where: string, hint = "fix it"): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `${where} is not valid JSON (${(error as Error).message.split("\n")[0]}): ${hint}`,
    );
  }
}

/** JSON if it parses, else the text itself. */
export function parseLoose(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `--ttl-ms` as save options, checked. */
export function ttl(values: Values): { ttlMs?: number } {
  const t = values["ttl-ms"];
  if (t === undefined) return {};
  const n = Number(t);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--ttl-ms must be a positive number`);
  return { ttlMs: n };
}
