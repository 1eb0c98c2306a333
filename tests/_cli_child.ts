// Runs one CLI command in a child process and prints {code, out, err} as one
// JSON line, so a test can put a time limit on a command that might hang.
import process from "node:process";
import { run } from "../cli.ts";

const out: string[] = [];
const err: string[] = [];
const code = await run(JSON.parse(process.argv[2]!), {
  out: (t) => out.push(t),
  err: (t) => err.push(t),
  stdin: () => Promise.resolve(""),
  stderrIsTty: false,
});
process.stdout.write(JSON.stringify({ code, out: out.join("\n"), err: err.join("\n") }) + "\n");
process.exit(0); // a backend left open must not keep the child alive
