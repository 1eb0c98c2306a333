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

/** The package's version, as deno.json has it (tests/mcp_test.ts checks that they agree). */
const VERSION = "0.1.0";

/** Options of {@linkcode createServer}. */
export interface ServerOptions {
  /** Register the read tools only. */
  readOnly?: boolean;
}

/** A server and what closes it. */
export interface StateServer {
  server: McpServer;
  /** Opens the backend (not a connection), so wrong settings fail before serving. */
  open(): Promise<void>;
  /** Closes the connection, every watcher and the backend. */
  close(): Promise<void>;
}

/** Builds the server on the CLI's settings; connect it to a transport. */
export function createServer(settings: Settings, options: ServerOptions = {}): StateServer {
  const readOnly = options.readOnly === true;
  const states = new States(settings);
  const server = new McpServer(
    { name: "managing-state", version: VERSION },
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
    open: () => states.open(),
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
  const { server, open, close } = createServer(settings, options);
  try {
    await open();
  } catch (error) {
    await close();
    throw error;
  }
  const transport = new StdioServerTransport();
  const ended = new Promise<void>((resolve) => {
    process.stdin.once("end", resolve);
    process.stdin.once("close", resolve);
    server.server.onclose = resolve;
  });
  await server.connect(transport);
  const answered = countAnswers(transport as unknown as Wire);
  await ended;
  // Bounded, so a request the SDK never answers cannot keep the process alive.
  await answered.idle(ANSWER_WAIT_MS);
  await close();
}

/** How long requests still running may take after stdin closed, in ms. */
const ANSWER_WAIT_MS = 30_000;

/** The parts of a JSON-RPC message and of a transport that the count needs. */
type Message = { id?: unknown; method?: unknown; params?: { requestId?: unknown } };
interface Wire {
  onmessage?: (message: Message, extra?: unknown) => void;
  send(message: Message, options?: unknown): Promise<void>;
}

/** Tracks the requests a connected transport has read and not yet answered. */
function countAnswers(transport: Wire): { idle(maxMs: number): Promise<void> } {
  const open = new Set<unknown>();
  let wake: (() => void) | null = null;
  const done = (id: unknown) => {
    open.delete(id);
    if (open.size === 0) wake?.();
  };
  const receive = transport.onmessage!;
  transport.onmessage = (message, extra) => {
    if ("method" in message && "id" in message) open.add(message.id);
    // A cancelled request gets no answer.
    if (message.method === "notifications/cancelled") done(message.params?.requestId);
    receive(message, extra);
  };
  const send = transport.send.bind(transport);
  transport.send = async (message, options) => {
    try {
      await send(message, options);
    } finally {
      if (!("method" in message) && "id" in message) done(message.id);
    }
  };
  return {
    idle(maxMs) {
      if (open.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, maxMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
