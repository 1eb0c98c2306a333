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
const cli = fileURLToPath(new URL("./_cli_main.ts", import.meta.url));
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

/** When to kill: `delayMs` after the child reports line `after` (or after it starts, if null). */
interface Kill {
  after: string | null;
  delayMs: number;
}

/**
 * A random kill, aimed at the first step not done yet (`k` are done), where
 * the interesting moments are: mostly from just before that step to just
 * after its commit (`stepMs` is how long a step that runs takes, as
 * measured), sometimes at a later step, sometimes while the child starts.
 */
function randomKill(k: number, stepMs: number, startMs: number): Kill {
  const r = Math.random();
  if (r < 0.1) return { after: null, delayMs: Math.random() * startMs };
  const j = r < 0.8 || k + 1 >= STEPS ? k + 1 : k + 2 + Math.floor(Math.random() * (STEPS - k - 1));
  const after = Math.random() < 0.2 ? (j === 1 ? "ready" : `done s${j - 1}`) : `start s${j}`;
  return { after, delayMs: Math.random() * stepMs * 1.2 };
}

/** Starts the child in its own process group and SIGKILLs the group as `kill` says. */
function runAndKill(mode: "lib" | "cli", options: OpenOptions, log: string, kill: Kill | null) {
  return new Promise<
    { lines: string[]; killed: boolean; at: Map<string, number>; startMs: number }
  >(
    (resolve, reject) => {
      const [cmd, args] = runtimeCommand(child);
      const spawned = Date.now();
      const proc = spawn(cmd, [...args, mode, JSON.stringify(options), log, cli], {
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let out = "";
      let err = "";
      let killed = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const at = new Map<string, number>(); // line -> when it arrived
      const killNow = () => {
        killed = true;
        try {
          process.kill(-proc.pid!, "SIGKILL"); // the child and every process it started
        } catch { /* already gone */ }
      };
      const arm = () => {
        if (kill && timer === undefined) timer = setTimeout(killNow, kill.delayMs);
      };
      if (kill?.after === null) arm();
      proc.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const now = Date.now();
        for (const line of out.split("\n").slice(0, -1)) {
          if (!at.has(line)) at.set(line, now);
          if (line === kill?.after) arm();
        }
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
            at,
            startMs: (at.get("ready") ?? Date.now()) - spawned,
          });
        }
      });
    },
  );
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
  // How long a step that runs takes, and the child's start, measured as we go.
  let stepMs = mode === "lib" ? 5 : 800;
  let startMs = 500;
  let k = 0; // steps done so far
  for (let round = 0;; round++) {
    // After the last kill, one more run goes to the end: it must finish the workflow.
    const last = stats.kills >= kills;
    const before = logCounts(log);
    const run = await runAndKill(mode, options, log, last ? null : randomKill(k, stepMs, startMs));
    const { killed, lines } = run;
    startMs = (startMs + run.startMs) / 2;
    for (let j = k + 1; j <= STEPS; j++) {
      const began = run.at.get(`start s${j}`);
      const ended = [...run.at].find(([line]) => line.startsWith(`done s${j}`))?.[1];
      if (began !== undefined && ended !== undefined) stepMs = (stepMs * 3 + ended - began) / 4;
    }
    if (killed) stats.kills++;
    const counts = logCounts(log);
    await using state = await StateManager.open(options);
    const steps = await state.steps();
    const done = steps.filter((s) => s.status === "done").map((s) => s.name);
    k = done.length;
    const where = `round ${round} (${killed ? "killed" : "finished"}, ${k} done)`;
    if (process.env.STEP_DEBUG) console.log(where, lines.length, [...counts], stepMs, startMs);
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
    const finished = k === STEPS;
    if (finished) {
      // Finished: the same as an uninterrupted run. Then start over.
      assert.deepEqual(steps.map((s) => s.status), Array(STEPS).fill("done"), where);
      stats.completed++;
      await state.clear();
      rmSync(log, { force: true });
      doneBefore = new Map();
      k = 0;
    }
    if (last) {
      assert.ok(finished, `${where}: the run after the last kill did not finish the workflow`);
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
