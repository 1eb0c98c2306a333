// Breaking a stale JSON lock never leaves two holders (issue 21, row 5):
// three processes race for a dead process's lock while one of them is
// stopped at each step of its takeover in turn; each holder proves it holds
// the lock alone by creating a marker file exclusively.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { removeDir, runtimeCommand, tempDir } from "./_runtime.ts";

const child = fileURLToPath(new URL("./_lock_child.ts", import.meta.url));

/**
 * Starts a contender; `paused` resolves when it stops at its step (never,
 * without one), `holding` once it holds the lock; `done` gives its last line.
 */
function contender(args: string[]) {
  const [cmd, lead] = runtimeCommand(child);
  const p = spawn(cmd, [...lead, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let onPause = () => {};
  let onHold = () => {};
  const paused = new Promise<void>((resolve) => (onPause = resolve));
  const holding = new Promise<void>((resolve) => (onHold = resolve));
  p.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    if (out.includes("paused at")) onPause();
    if (out.includes("holding")) onHold();
  });
  p.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const done = new Promise<string>((resolve) =>
    p.on("close", (code) => {
      const last = out.trim().split("\n").at(-1) ?? "";
      resolve(code === 0 ? last : `exit ${code}: ${out} ${err}`);
    })
  );
  return { paused, holding, done, kill: () => p.kill("SIGKILL") };
}

// A is stopped after deciding the lock is stale, while B takes it over and
// holds it; then A goes on, and is stopped again at a step of its own
// takeover, while C tries for the lock. Before the claims, A moved B's live
// lock aside there, C took the free lock, and both held it.
for (const step of ["claimed", "verified"]) {
  test(`hostile #5: a stale lock broken by three processes, one stopped before and at "${step}", has one holder at a time`, async () => {
    const dir = tempDir();
    try {
      const lock = join(dir, "lock");
      const marker = join(dir, "held");
      // pid 2^22+1 is above Linux's largest pid_max: that process is gone.
      writeFileSync(
        lock,
        JSON.stringify({ pid: 4194305, host: hostname(), token: "dead-holder", at: Date.now() }),
        { mode: 0o600 },
      );
      const a = contender([lock, marker, `takeover:1500,${step}:1500`, "100"]);
      await a.paused;
      const b = contender([lock, marker, "", "3000"]);
      await b.holding;
      const c = contender([lock, marker, "", "100"]);
      const results = await Promise.all([a.done, b.done, c.done]);
      assert.deepEqual(results, ["held alone", "held alone", "held alone"]);
    } finally {
      removeDir(dir);
    }
  });
}

test("hostile #5: a process killed in the middle of a takeover does not block the lock", async () => {
  const dir = tempDir();
  try {
    const lock = join(dir, "lock");
    const marker = join(dir, "held");
    writeFileSync(
      lock,
      JSON.stringify({ pid: 4194305, host: hostname(), token: "dead-holder", at: Date.now() }),
      { mode: 0o600 },
    );
    // A dies holding its claim on the dead holder's lock: the claim is as stale as the lock.
    const a = contender([lock, marker, "claimed:60000", "0"]);
    await a.paused;
    a.kill();
    assert.match(await a.done, /exit null/);
    const results = await Promise.all([1, 2].map(() => contender([lock, marker, "", "100"]).done));
    assert.deepEqual(results, ["held alone", "held alone"]);
  } finally {
    removeDir(dir);
  }
});

test("hostile #5: the test can see two holders (its marker works)", {
  skip: process.platform === "win32" && "POSIX only",
}, async () => {
  const dir = tempDir();
  try {
    // Two contenders on two different lock files both "hold": the marker says so.
    const marker = join(dir, "held");
    const a = contender([join(dir, "lock-a"), marker, "", "3000"]);
    await a.holding;
    const b = contender([join(dir, "lock-b"), marker, "", "0"]);
    const results = (await Promise.all([a.done, b.done])).sort();
    assert.deepEqual(results, ["held alone", "held together"]);
  } finally {
    removeDir(dir);
  }
});
