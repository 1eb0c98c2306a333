// What a tool is: its name, schemas, annotations and action. The tables in
// _tools_read.ts and _tools_write.ts hold them; _server.ts registers them.
import { z } from "zod";
import type { States } from "./_states.ts";

/** What MCP clients read to judge a tool (the spec's ToolAnnotations). */
export interface Annotations {
  title: string;
  readOnlyHint: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint: false;
}

/** One tool: `run` gets arguments the SDK has already checked against `input`. */
export interface Tool<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  /** Whether it changes state; `--read-only` leaves these out. */
  writes: boolean;
  annotations: Annotations;
  input: I;
  output: O;
  run(args: z.output<I>, states: States): Promise<{ result: z.output<O>; text: string }>;
}

/** A tool whose argument and result types are checked here and erased for the table. */
export function tool<I extends z.ZodObject, O extends z.ZodObject>(t: Tool<I, O>): Tool {
  return t as unknown as Tool;
}

/** The `namespace` argument every tool but `namespaces` takes. */
export const namespace = z.string().optional().describe(
  "the namespace (default: the server's --namespace)",
);

/** A key argument. */
export const key = z.string().describe("the key");

/** Any JSON value (object, array, string, number, boolean or null). */
export const jsonValue = z.unknown().describe("any JSON value");

/** An optional time to live. */
export const ttlMs = z.number().positive().optional().describe(
  "delete the key after this many milliseconds (default: never)",
);

/** Annotations of a tool that only reads. */
export function reads(title: string): Annotations {
  return { title, readOnlyHint: true, openWorldHint: false };
}

/** Annotations of a tool that writes. */
export function writes(title: string, destructive: boolean, idempotent: boolean): Annotations {
  return {
    title,
    readOnlyHint: false,
    destructiveHint: destructive,
    idempotentHint: idempotent,
    openWorldHint: false,
  };
}

/** JSON text for a tool's text rendering, short enough to read. */
export function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 2000 ? `${text.slice(0, 2000)}... (${text.length} characters)` : text;
}
