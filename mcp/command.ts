// The `mcp` command of the CLI. It loads the server, and with it the MCP SDK,
// only when it runs: every other command starts without them.
import type { Command } from "../cli/_context.ts";

/** The SDK packages the server needs; on npm they are optional peers. */
const PACKAGES = "@modelcontextprotocol/sdk@1.32.1 zod@4";

/** `managing-state mcp`: serve the state verbs to an MCP client over stdio. */
export const MCP_COMMAND: Command = {
  summary: "Serve the state as a Model Context Protocol server over stdio (for agents)",
  usage: "mcp [--read-only] [--backend sqlite --namespace wf-1]",
  options: {
    "read-only": { type: "boolean", help: "offer the tools that read, and none that write" },
  },
  async run(ctx) {
    let server: typeof import("./_server.ts");
    try {
      // A variable specifier: Deno reads the server and the SDK only when this runs.
      const specifier = "./_server.ts";
      server = await import(specifier);
    } catch (error) {
      const message = (error as Error).message ?? "";
      if (!/modelcontextprotocol|zod/.test(message)) throw error;
      throw new Error(
        `The MCP server needs ${PACKAGES}, which are not installed next to managing-state: ` +
          `run "npm install ${PACKAGES}" (npx: add -p for each) (${message.split("\n")[0]})`,
      );
    }
    await server.serve(ctx.settings, { readOnly: ctx.values["read-only"] === true });
  },
};
