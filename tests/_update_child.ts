// Child process for the multi-process update test: opens a manager with the
// options given as JSON and increments one key `count` times.
import process from "node:process";
import { StateManager } from "../mod.ts";

const [optionsJson, key, count] = process.argv.slice(2);
const options = JSON.parse(optionsJson!);
const state = await StateManager.open(options);
for (let i = 0; i < Number(count); i++) {
  await state.update<number>(key!, (n = 0) => n + 1);
}
await state.close();
console.log("done");
