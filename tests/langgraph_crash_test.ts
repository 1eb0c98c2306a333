// A LangGraph put interrupted by SIGKILL leaves the previous checkpoint
// readable, never half of a new one: a child puts a growing chat thread
// (deltas, and pruning with keepLast) until it is killed at a random
// moment; then every kept checkpoint must read back whole and in sequence,
// and the newest must be the last acknowledged step or the one in flight.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { StateDamagedError } from "../mod.ts";
import { ManagingStateSaver, type ManagingStateSaverOptions } from "../adapters/langgraph.ts";
import { checkStep } from "./_langgraph_chat.ts";
import { KILLS } from "./_crash.ts";
import { removeDir, runtimeCommand, tempDir } from "./_runtime.ts";

const child = fileURLToPath(new URL("./_langgraph_crash_child.ts", import.meta.url));

/** Kills per backend: a tenth of the crash loops' (each child loads LangGraph's package). */
const ROUNDS = Math.max(3, Math.round(KILLS / 10));

/** Runs the child until it has reported `lines` lines, then SIGKILLs it within `delayMs`. */
function runAndKill(options: object, lines: number, delayMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const [cmd, args] = runtimeCommand(child);
    const proc = spawn(cmd, [...args, JSON.stringify(options)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    proc.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (timer === undefined && out.split("\n").length - 2 >= lines) {
        timer = setTimeout(() => proc.kill("SIGKILL"), delayMs);
      }
    });
    proc.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`child exited with ${code}: ${err}`));
      else resolve(out.split("\n").slice(0, -1));
    });
  });
}

async function crashSaver(name: string, options: ManagingStateSaverOptions): Promise<void> {
  let acknowledged = -1;
  let recoveries = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const lines = await runAndKill(options, 1 + Math.floor(Math.random() * 6), Math.random() * 4);
    for (const line of lines) {
      const [what, n] = line.split(" ");
      if (what === "put") acknowledged = Number(n);
    }
    let saver = new ManagingStateSaver(options);
    try {
      await saver.getTuple({ configurable: { thread_id: "crash" } });
    } catch (error) {
      if (!(error instanceof StateDamagedError)) throw error;
      recoveries++;
      await saver.close();
      saver = new ManagingStateSaver({ ...options, recover: true });
    }
    try {
      const history = [];
      for await (const t of saver.list({ configurable: { thread_id: "crash" } })) history.push(t);
      const steps = history.map((t) => t.metadata!.step as number);
      const newest = steps[0] ?? -1;
      // The put in flight at the kill landed whole or not at all.
      assert.ok(
        newest === acknowledged || newest === acknowledged + 1,
        `${name} round ${round}: newest step ${newest}, acknowledged ${acknowledged}`,
      );
      // Kept checkpoints are the newest ones, in sequence, each whole.
      assert.deepEqual(steps, steps.map((_, i) => newest - i), `${name} round ${round}`);
      assert.equal(steps.length, Math.min(options.retention!.keepLast!, newest + 1));
      for (const tuple of history) {
        checkStep(tuple.checkpoint.channel_values, tuple.metadata!.step as number);
      }
      acknowledged = newest;
    } finally {
      await saver.close();
    }
  }
  assert.ok(acknowledged >= ROUNDS, `${name}: only ${acknowledged + 1} steps were put`);
  console.log(
    `${name} LangGraph crash loop: ${ROUNDS} kills, ${
      acknowledged + 1
    } steps, every kept checkpoint whole, ${recoveries} recoveries`,
  );
}

for (const backend of ["sqlite", "json", "kv"] as const) {
  test(`langgraph: a put killed by SIGKILL never leaves half a checkpoint (${backend}, ${ROUNDS} kills)`, async () => {
    const dir = tempDir();
    try {
      const path = join(dir, backend === "kv" ? "state.kv" : "state.db");
      const retention = { keepLast: 6 };
      await crashSaver(
        backend,
        backend === "json" ? { backend, dir, retention } : { backend, path, retention },
      );
    } finally {
      removeDir(dir);
    }
  });
}
