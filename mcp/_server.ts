// The MCP server: the tools of _tools_read.ts and _tools_write.ts and the
// resources of _resources.ts on the official SDK's McpServer, over stdio.
// Only the `mcp` command loads this module (and so the SDK).
import process from "node:process";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { Settings } from "../cli/_config.ts";
import { errorResult, sdkErrorResult } from "./_errors.ts";
import { registerResources } from "./_resources.ts";
import { States } from "./_states.ts";
import type { Tool } from "./_tool.ts";
import { READ_TOOLS } from "./_tools_read.ts";
import { WRITE_TOOLS } from "./_tools_write.ts";

/** Options of {@linkcode createServer}. */
export interface ServerOptions {
  /** Register the read tools only. */
  readOnly?: boolean;
  /** The version the server reports. */
  version?: string;
}

/** A server and what closes it. */
export interface StateServer {
  server: McpServer;
  /** Closes the connection, every watcher and the backend. */
  close(): Promise<void>;
}

/** Builds the server on the CLI's settings; connect it to a transport. */
export function createServer(settings: Settings, options: ServerOptions = {}): StateServer {
  const readOnly = options.readOnly === true;
  const states = new States(settings);
  const server = new McpServer(
    { name: "managing-state", version: options.version ?? "0.1.0" },
    {
      instructions: "Workflow state that survives crashes: save and load JSON values by key in " +
        `a namespace (default "${settings.namespace}", on the ${settings.backend} backend), ` +
        "take checkpoints and restore them. Errors start with a code (KEY_NOT_FOUND, " +
        "CONFLICT, VALIDATION, ...) and end with a hint.",
    },
  );
  const tools = readOnly ? READ_TOOLS : [...READ_TOOLS, ...WRITE_TOOLS];
  for (const t of tools) register(server, t, states);
  // The SDK answers arguments that fail a schema, and unknown tools, with its own
  // error text; this gives them a code and a hint like every other error.
  const writeNames = new Set(WRITE_TOOLS.map((t) => t.name));
  const sdk = server as unknown as { createToolError?: (message: string) => unknown };
  if (typeof sdk.createToolError !== "function") {
    throw new Error("@modelcontextprotocol/sdk changed: McpServer.createToolError is gone");
  }
  sdk.createToolError = (message: string) =>
    sdkErrorResult(message, (name) => readOnly && writeNames.has(name));
  const stopWatching = registerResources(server, states);
  return {
    server,
    async close() {
      await stopWatching();
      await server.close().catch(() => {});
      await states.close();
    },
  };
}

function register(server: McpServer, t: Tool, states: States): void {
  server.registerTool(t.name, {
    title: t.annotations.title,
    description: t.description,
    inputSchema: t.input,
    outputSchema: t.output,
    annotations: t.annotations,
  }, async (args: unknown) => {
    try {
      const { result, text } = await t.run(args as never, states);
      return { content: [{ type: "text", text }], structuredContent: result };
    } catch (error) {
      return errorResult(error, states.url);
    }
  });
}

/**
 * Runs the server over this process's stdin and stdout until the client
 * closes stdin; then closes everything, so the process can exit.
 */
export async function serve(settings: Settings, options: ServerOptions = {}): Promise<void> {
  const { server, close } = createServer(settings, options);
  const transport: Transport = new StdioServerTransport();
  const ended = new Promise<void>((resolve) => {
    process.stdin.once("end", resolve);
    process.stdin.once("close", resolve);
    server.server.onclose = resolve;
  });
  await server.connect(transport);
  await ended;
  await close();
}
