// Child process for the coherence and watch tests: opens a manager with the
// options given as JSON, then runs one command per stdin line and answers
// each with one JSON line once the command has completed.
import process from "node:process";
import { createInterface } from "node:readline";
import { StateManager } from "../mod.ts";
import { runPeerCommand } from "./_peer.ts";

const state = await StateManager.open(JSON.parse(process.argv[2]!));
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  try {
    const value = await runPeerCommand(state, JSON.parse(line));
    process.stdout.write(JSON.stringify({ ok: true, value }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error) }) + "\n");
  }
}
await state.close();
