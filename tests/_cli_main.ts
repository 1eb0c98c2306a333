// The CLI as a process, started the same way under Deno and under Node (where
// the tests are compiled and cli.js is imported, not run as the main module).
import { main } from "../cli.ts";

await main();
