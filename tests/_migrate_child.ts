// Child process for the interrupted-migration test: migrates and reports
// progress on stdout until it is killed.
import process from "node:process";
import { migrate } from "../mod.ts";

const options = JSON.parse(process.argv[2]!);
await migrate({
  ...options,
  onProgress: (e) => process.stdout.write(`progress ${e.phase} ${e.done}\n`),
});
console.log("done");
