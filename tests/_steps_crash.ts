// The steps kill loop: a runner process (and, in the CLI form, the CLI
// processes it starts) is SIGKILLed at a random moment while it runs a
// workflow of 5 steps; after every kill the store is checked: a step recorded
// done never runs again, no value of a half-run step is visible, and the
// steps done so far are exactly a prefix of the workflow. A run that finishes
// is compared with an uninterrupted run, then the store is cleared and the
// loop goes on until it has killed `kills` runners.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type JsonValue, type OpenOptions, RESERVED_PREFIX, StateManager } from "../mod.ts";
import { runtimeCommand } from "./_runtime.ts";

const child = fileURLToPath(new URL("./_steps_crash_child.ts", import.meta.url));
const cli = fileURLToPath(new URL("../cli.ts", import.meta.url));
const STEPS = 5;

/**
 * Kills per backend: STEP_KILLS, else 20 when CI is set (keeps CI fast),
 * else 100.
 */
export const STEP_KILLS = Number(
  process.env.STEP_KILLS ?? (process.env.CI ? 20 : 100),
);

/** What a kill loop saw. */
export interface StepCrashStats {
  kills: number;
  /** Workflows that ran to the end (and matched an uninterrupted run). */
  completed: number;
  /** Kills that left a step started (its effect logged) but not recorded done. */
  interrupted: number;
}

/** What the store holds (user keys) after the first `k` steps of the library workflow. */
function expectedLib(k: number): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  if (k > 0) out.total = (k * (k + 1)) / 2;
  for (let i = 1; i <= k; i++) out[`v${i}`] = { i, pad: "x".repeat(i * 40), twice: true };
  if (k >= 2 && k < 4) out.scratch = "temporary";
  return out;
}

/** Starts the child in its own process group and SIGKILLs the group at a random moment. */
function runAndKill(
  mode: "lib" | "cli",
  options: OpenOptions,
  log: string,
  noKill: boolean,
  gapMs: number,
) {
  return new Promise<{ lines: string[]; killed: boolean; gaps: number[] }>((resolve, reject) => {
    const [cmd, args] = runtimeCommand(child);
    const proc = spawn(cmd, [...args, mode, JSON.stringify(options), log, cli], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    let err = "";
    let killed = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const kill = () => {
      killed = true;
      try {
        process.kill(-proc.pid!, "SIGKILL"); // the child and every process it started
      } catch { /* already gone */ }
    };
    // Kill after a random number of reported lines plus a random delay of up
    // to two gaps between lines (as measured so far): the kill lands anywhere
    // in the workflow, whatever the machine's and the backend's speed.
    const afterLines = Math.floor(Math.random() * 11);
    const delay = Math.random() * 2 * gapMs;
    const gaps: number[] = [];
    let lastLine = 0;
    const arm = () => {
      if (timer === undefined) timer = setTimeout(kill, delay);
    };
    if (noKill) timer = setTimeout(() => {}, 0); // never armed: the run goes to the end
    if (afterLines === 0) arm();
    proc.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const now = Date.now();
      if (lastLine) gaps.push(now - lastLine);
      lastLine = now;
      if (out.split("\n").length - 1 >= afterLines) arm();
    });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL" && code !== 0) {
        reject(new Error(`child exited with ${code}: ${err}`));
      } else {
        resolve({
          lines: out.split("\n").slice(0, -1),
          killed: killed && signal === "SIGKILL",
          gaps,
        });
      }
    });
  });
}

function logCounts(log: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(log, "utf8");
  } catch { /* nothing logged yet */ }
  for (const line of text.split("\n").filter(Boolean)) {
    counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return counts;
}

/** Runs the loop in `mode` until `kills` runners were killed. */
export async function stepsCrashLoop(
  mode: "lib" | "cli",
  options: OpenOptions,
  dir: string,
  kills: number,
): Promise<StepCrashStats> {
  const stats: StepCrashStats = { kills: 0, completed: 0, interrupted: 0 };
  const log = join(dir, "effects.log");
  {
    await using fresh = await StateManager.open(options);
    await fresh.clear();
  }
  let doneBefore = new Map<string, number>(); // step -> log count when first seen done
  let gapMs = mode === "lib" ? 3 : 300; // time between reported lines, measured as we go
  for (let round = 0;; round++) {
    // After the last kill, one more run goes to the end: it must finish the workflow.
    const last = stats.kills >= kills;
    const before = logCounts(log);
    const { killed, gaps } = await runAndKill(mode, options, log, last, gapMs);
    if (gaps.length) gapMs = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    if (killed) stats.kills++;
    const counts = logCounts(log);
    await using state = await StateManager.open(options);
    const steps = await state.steps();
    const done = steps.filter((s) => s.status === "done").map((s) => s.name);
    const k = done.length;
    const where = `round ${round} (${killed ? "killed" : "finished"}, ${k} done)`;
    // Done steps are exactly s1..sk: the workflow runs them in order.
    assert.deepEqual(done, Array.from({ length: k }, (_, i) => `s${i + 1}`), where);
    // A step recorded done never runs again.
    for (const [name, count] of doneBefore) {
      assert.equal(counts.get(name) ?? 0, count, `${where}: ${name} ran again after done`);
    }
    for (const name of done) if (!doneBefore.has(name)) doneBefore.set(name, counts.get(name)!);
    for (const name of done) assert.ok((counts.get(name) ?? 0) >= 1, `${where}: ${name} not run`);
    const started = [...counts.keys()].filter((n) => !done.includes(n));
    if (started.some((n) => (counts.get(n) ?? 0) > (before.get(n) ?? 0))) stats.interrupted++;
    // Exactly-once for the store: the done steps' values, and nothing of a half-run step.
    if (mode === "lib") {
      const user = await userState(state);
      assert.deepEqual(user, expectedLib(k), `${where}: store`);
      for (const s of steps.filter((s) => s.status === "done")) {
        assert.equal(s.result, Number(s.name.slice(1)) * 10, `${where}: result of ${s.name}`);
      }
    } else {
      for (const s of steps.filter((s) => s.status === "done")) {
        const result = s.result as { exitCode: number; output: string[] };
        assert.equal(result.exitCode, 0, where);
        assert.deepEqual(result.output, [`out-${s.name}`], `${where}: output of ${s.name}`);
      }
      assert.deepEqual(await userState(state), {}, `${where}: store`);
    }
    if (k === STEPS) {
      // Finished: the same as an uninterrupted run. Then start over.
      assert.deepEqual(steps.map((s) => s.status), Array(STEPS).fill("done"), where);
      stats.completed++;
      await state.clear();
      rmSync(log, { force: true });
      doneBefore = new Map();
    }
    if (last) {
      assert.equal(k, STEPS, `${where}: the run after the last kill did not finish`);
      return stats;
    }
  }
}

/** Every key outside the reserved prefix, with its value. */
async function userState(state: StateManager): Promise<Record<string, JsonValue>> {
  const keys = (await state.listKeys()).keys.filter((k) => !k.startsWith(RESERVED_PREFIX));
  return await state.loadMany(keys);
}

/** Asserts the loop did real work and prints its counts. */
export function reportSteps(name: string, stats: StepCrashStats, kills: number): void {
  assert.equal(stats.kills, kills);
  assert.ok(stats.completed >= 1, `${name}: no workflow finished`);
  if (kills >= 10) assert.ok(stats.interrupted >= 1, `${name}: no kill landed inside a step`);
  console.log(
    `${name} steps kill loop: ${stats.kills} kills, ${stats.interrupted} inside a step, ` +
      `${stats.completed} workflows finished and matched an uninterrupted run`,
  );
}
