// The MCP server: the tools of _tools_read.ts and _tools_write.ts and the
// resources of _resources.ts on the official SDK's McpServer, over stdio.
// Only the `mcp` command loads this module (and so the SDK).
import process from "node:process";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
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
 * closes stdin and every request read has been answered (a shell pipe that
 * writes its requests and closes stdin still gets its answers); then closes
 * everything, so the process can exit.
 */
export async function serve(settings: Settings, options: ServerOptions = {}): Promise<void> {
  const { server, close } = createServer(settings, options);
  const transport = new StdioServerTransport();
  const ended = new Promise<void>((resolve) => {
    process.stdin.once("end", resolve);
    process.stdin.once("close", resolve);
    server.server.onclose = resolve;
  });
  await server.connect(transport);
  const answered = countAnswers(transport as unknown as Wire);
  await ended;
  await answered.idle();
  await close();
}

/** The parts of a JSON-RPC message and of a transport that the count needs. */
type Message = { id?: unknown; method?: unknown };
interface Wire {
  onmessage?: (message: Message, extra?: unknown) => void;
  send(message: Message, options?: unknown): Promise<void>;
}

/** Tracks the requests a connected transport has read and not yet answered. */
function countAnswers(transport: Wire): { idle(): Promise<void> } {
  const open = new Set<unknown>();
  let wake: (() => void) | null = null;
  const isRequest = (m: Message) => "method" in m && "id" in m;
  const receive = transport.onmessage!;
  transport.onmessage = (message, extra) => {
    if (isRequest(message)) open.add(message.id);
    receive(message, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    try {
      await send(message, options);
    } finally {
      if (!("method" in message) && "id" in message) {
        open.delete(message.id);
        if (open.size === 0) wake?.();
      }
    }
  };
  return {
    idle: () => open.size === 0 ? Promise.resolve() : new Promise<void>((r) => (wake = r)),
  };
}
