// Child process for the lock race: takes the lock, proves it holds it alone
// (a marker file created exclusively while it holds the lock), holds it a
// moment, and releases. It can stop at steps of a takeover (printing "paused
// at <step>" first), so the test can race other processes past it.
import { closeSync, openSync, unlinkSync } from "node:fs";
import process from "node:process";
import { acquireLock, lockTestHooks } from "../backends/_lock.ts";

const [lockPath, marker, pauses, holdMs] = process.argv.slice(2);
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
// "takeover:1500,claimed:1500": stop 1.5 s at the first takeover, then at the next claim.
const plan = (pauses ?? "").split(",").filter(Boolean).map((p) => p.split(":"));
lockTestHooks.pause = (step) => {
  if (plan[0]?.[0] !== step) return;
  const [, ms] = plan.shift()!;
  process.stdout.write(`paused at ${step}\n`);
  sleepSync(Number(ms));
};
const lock = await acquireLock(lockPath!, { timeoutMs: 30_000 });
let alone = true;
try {
  closeSync(openSync(marker!, "wx"));
} catch {
  alone = false; // someone else holds it too
}
process.stdout.write("holding\n");
await new Promise((r) => setTimeout(r, Number(holdMs)));
if (alone) unlinkSync(marker!);
lock.release();
process.stdout.write(alone ? "held alone\n" : "held together\n");
