// Runs the project's test files, compiled into npm/tests by build_npm.ts,
// under Node (24 from npm when the system Node is older):
//
//   deno task test:node     (builds first)
//
// Arguments are passed to `node --test` (e.g. --test-name-pattern=sqlite).
// The crash loops run CRASH_KILLS=50 kills per backend here unless set, and
// the steps kill loops STEP_KILLS=20, the fault-proxy tests FAULT_OPS=200 per
// process: the Deno suite runs the full 200, 100 and 500 on the same code.
import { join } from "node:path";
import { envWithNode, findNode, NPM_DIR, output, run } from "./_node.ts";

const tests = [...Deno.readDirSync(join(NPM_DIR, "tests"))]
  .map((e) => e.name)
  .filter((name) => name.endsWith("_test.js"))
  .sort()
  .map((name) => join("tests", name));
if (tests.length === 0) throw new Error("No compiled tests in npm/tests: run deno task build:npm");

const node = await findNode();
const version = (await output(node, ["--version"])).trim();
console.log(`Node suite: ${tests.length} test files on Node ${version}`);
await run(node, ["--test", "--test-concurrency=2", ...Deno.args, ...tests], {
  cwd: NPM_DIR,
  env: {
    ...envWithNode(node),
    CRASH_KILLS: Deno.env.get("CRASH_KILLS") ?? "50",
    STEP_KILLS: Deno.env.get("STEP_KILLS") ?? "20",
    FAULT_OPS: Deno.env.get("FAULT_OPS") ?? "200",
  },
});
