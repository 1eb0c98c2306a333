// Child process for the restore/checkpoint race: alternately takes a
// checkpoint, rewrites every key to one generation, and restores a random
// checkpoint. Every checkpoint and every state must hold one generation only.
import process from "node:process";
import { StateManager } from "../mod.ts";

const [optionsJson, id, rounds] = process.argv.slice(2);
const state = await StateManager.open(JSON.parse(optionsJson!));
const KEYS = ["a", "b", "c", "d", "e"];
for (let r = 0; r < Number(rounds); r++) {
  const gen = `${id}-${r}`;
  await state.saveMany(Object.fromEntries(KEYS.map((k) => [k, gen])));
  await state.checkpoint(`cp-${gen}`);
  const all = await state.listCheckpoints();
  const pick = all[Math.floor(Math.random() * all.length)];
  if (pick) await state.restoreCheckpoint(pick.name);
}
await state.close();
console.log("done");
