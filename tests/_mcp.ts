// MCP test helpers: the real server as a child process (`managing-state mcp`
// through the CLI) and the SDK's own Client talking to it over stdio.
import assert from "node:assert/strict";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { runtimeCommand } from "./_runtime.ts";

const child = fileURLToPath(new URL("./_mcp_server_child.ts", import.meta.url));

/** A client connected to a server process, and what that process wrote to stderr. */
export interface Connection {
  client: Client;
  stderr(): string;
  close(): Promise<void>;
}

/** Starts `managing-state mcp <args>` and connects a client to it. */
export async function connect(args: string[], cwd?: string): Promise<Connection> {
  const [command, lead] = runtimeCommand(child);
  const transport = new StdioClientTransport({
    command,
    args: [...lead, "mcp", ...args],
    env: { ...process.env, NO_COLOR: "1" } as Record<string, string>,
    stderr: "pipe",
    ...(cwd === undefined ? {} : { cwd }),
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
  const client = new Client({ name: "managing-state-tests", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    stderr: () => stderr,
    close: () => client.close(),
  };
}

/** A tool as tools/list describes it (the parts the tests read). */
export interface ToolInfo {
  name: string;
  inputSchema: { type: string; properties?: Record<string, unknown> };
  outputSchema?: { type: string };
  annotations?: {
    readOnlyHint?: boolean;
    destructiveHint?: boolean;
    idempotentHint?: boolean;
    openWorldHint?: boolean;
  };
}

/** The server's tools. */
export async function listTools(client: Client): Promise<ToolInfo[]> {
  return (await client.listTools()).tools as ToolInfo[];
}

/** A tool call's result, as the SDK's Client returns it. */
export interface CallResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}

/** Calls a tool and returns its structured result; fails on an error result. */
export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const r = (await client.callTool({ name, arguments: args })) as CallResult;
  assert.ok(!r.isError, `${name} ${JSON.stringify(args)} failed: ${textOf(r)}`);
  assert.ok(r.structuredContent, `${name} returned no structured content`);
  return r.structuredContent;
}

/** Calls a tool that must fail; returns its error code and whole text. */
export async function fails(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<{ code: string; text: string }> {
  const r = (await client.callTool({ name, arguments: args })) as CallResult;
  const text = textOf(r);
  assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} succeeded: ${text}`);
  const m = /^([A-Z_]+): .+\. Hint: .+$/.exec(text);
  assert.ok(m, `error text has a code and a hint: ${text}`);
  // Hints speak in tool and argument names, never in library calls or CLI flags.
  assert.doesNotMatch(text, /\w\(\)|\{ \w+: true \}|--(?!read-only\b)\w/, text);
  return { code: m[1]!, text };
}

/** The text of a result's first content block. */
export function textOf(r: CallResult): string {
  return r.content.map((c) => c.text ?? "").join("\n");
}
