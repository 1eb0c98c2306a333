// The CLI as a process, for tests that start `managing-state mcp` through the
// runtime's own command (deno run ... / node ...js).
import { main } from "../cli.ts";

await main();
