// Child process for the Deno KV restore test: reads a namespace in a loop for
// a while and reports how often it saw state A, state B, or a mix of both.
import process from "node:process";
import { StateManager } from "../mod.ts";
import { classify } from "./_kv_states.ts";

const [optionsJson, ms] = process.argv.slice(2);
const state = await StateManager.open({ ...JSON.parse(optionsJson!), cache: false });
const counts: Record<string, number> = { A: 0, B: 0, mix: 0 };
const end = Date.now() + Number(ms);
while (Date.now() < end) counts[await classify(state)]!++;
await state.close();
console.log(JSON.stringify(counts));
