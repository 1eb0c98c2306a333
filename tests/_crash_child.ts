// Child process for the crash loop: saves keys and takes checkpoints in a
// loop, reporting each one on stdout only after it returned, until killed.
import process from "node:process";
import { StateManager } from "../mod.ts";

const [optionsJson, start] = process.argv.slice(2);
const state = await StateManager.open(JSON.parse(optionsJson!));
const report = (line: string) => process.stdout.write(`${line}\n`);
report("ready");
for (let i = Number(start);; i++) {
  await state.save(`k${i}`, { i, pad: "x".repeat(i % 300) });
  report(`saved ${i}`);
  if (i % 4 === 0) {
    // A rerun after a rollback takes the same checkpoint again.
    await state.checkpoint(`cp-${i}`, { metadata: { i }, overwrite: true });
    report(`checkpoint ${i}`);
  }
}
