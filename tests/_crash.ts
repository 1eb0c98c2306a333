// The crash loop: a child saves and checkpoints until it is SIGKILLed at a
// random moment; then every write it reported is checked, and the newest
// checkpoint it reported is restored. Repeated many times per backend.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type OpenOptions, StateDamagedError, StateManager } from "../mod.ts";
import { runtimeCommand } from "./_runtime.ts";

const childScript = fileURLToPath(new URL("./_crash_child.ts", import.meta.url));

/** What a crash loop saw. */
export interface CrashStats {
  kills: number;
  acknowledged: number;
  checkpointsRestored: number;
  recoveries: number;
}

/**
 * One child run, SIGKILLed either `delayMs` after it starts (`early`: while it
 * opens the store) or `delayMs` after it has reported `lines` events, which
 * lands the kill in the middle of a write whatever the machine's speed.
 */
function runAndKill(options: OpenOptions, start: number, kill: Kill) {
  return new Promise<string[]>((resolve, reject) => {
    const [cmd, args] = runtimeCommand(childScript);
    const child = spawn(cmd, [...args, JSON.stringify(options), String(start)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killNow = () => child.kill("SIGKILL");
    if (kill.early) timer = setTimeout(killNow, kill.delayMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      // "ready" plus the events: count reported lines.
      if (!kill.early && timer === undefined && out.split("\n").length - 2 >= kill.lines) {
        timer = setTimeout(killNow, kill.delayMs);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`child exited with ${code}: ${err}`));
      // Only complete lines were reported before the kill.
      else resolve(out.split("\n").slice(0, -1));
    });
  });
}

interface Kill {
  early: boolean;
  delayMs: number;
  lines: number;
}

function randomKill(): Kill {
  const early = Math.random() < 0.15;
  return early
    ? { early, delayMs: Math.random() * 150, lines: 0 }
    : { early, delayMs: Math.random() * 3, lines: 2 + Math.floor(Math.random() * 15) };
}

/** Runs `kills` crash iterations against the store `options` names. */
export async function crashLoop(options: OpenOptions, kills: number): Promise<CrashStats> {
  const expected = new Map<string, number>();
  const stats: CrashStats = { kills: 0, acknowledged: 0, checkpointsRestored: 0, recoveries: 0 };
  let next = 0;
  for (let round = 0; round < kills; round++) {
    const lines = await runAndKill(options, next, randomKill());
    stats.kills++;
    let newestCheckpoint: number | undefined;
    for (const line of lines) {
      const [what, n] = line.split(" ");
      if (what === "saved") {
        expected.set(`k${n}`, Number(n));
        stats.acknowledged++;
        next = Number(n) + 1;
      } else if (what === "checkpoint") newestCheckpoint = Number(n);
    }
    let state: StateManager;
    try {
      state = await StateManager.open(options);
    } catch (error) {
      if (!(error instanceof StateDamagedError)) throw error;
      stats.recoveries++;
      state = await StateManager.open({ ...options, recover: true });
    }
    try {
      const keys = [...expected.keys()];
      const got = await state.loadMany(keys);
      for (const [key, i] of expected) {
        assert.deepEqual(got[key], { i, pad: "x".repeat(i % 300) }, `round ${round}: ${key} lost`);
      }
      // A write in flight at the kill may or may not have landed, but never torn.
      const inflight = await state.load(`k${next}`, null);
      if (inflight !== null) assert.deepEqual(inflight, { i: next, pad: "x".repeat(next % 300) });
      const listed = await state.listCheckpoints();
      if (newestCheckpoint !== undefined) {
        assert.ok(listed.some((c) => c.name === `cp-${newestCheckpoint}`));
        await state.restoreCheckpoint(`cp-${newestCheckpoint}`);
        stats.checkpointsRestored++;
        for (const [key, i] of expected) if (i > newestCheckpoint) expected.delete(key);
        const now = (await state.listKeys()).keys;
        assert.deepEqual(new Set(now), new Set(expected.keys()), `round ${round}: restore`);
        next = newestCheckpoint + 1;
      }
    } finally {
      await state.close();
    }
  }
  return stats;
}

/** How many kills per backend: CRASH_KILLS, default 200. */
export const KILLS = Number(globalThis.process?.env?.CRASH_KILLS ?? 200);

/** Asserts the loop did real work and prints its counts. */
export function report(name: string, stats: CrashStats): void {
  assert.equal(stats.kills, KILLS);
  assert.ok(stats.acknowledged > KILLS, `only ${stats.acknowledged} acknowledged writes`);
  assert.ok(stats.checkpointsRestored > KILLS / 4, `only ${stats.checkpointsRestored} restores`);
  // Counts for the log: how much the loop proved.
  console.log(
    `${name} crash loop: ${stats.kills} kills, ${stats.acknowledged} acknowledged writes verified, ` +
      `${stats.checkpointsRestored} checkpoints restored, ${stats.recoveries} recoveries needed`,
  );
}
