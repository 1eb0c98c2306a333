// `step` and `steps` as real processes: a command runs once, its exit code
// passes through, two racing runners never both run it, and the lease is
// renewed while a long command runs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type ChildResult, removeDir, runScript, tempDir } from "./_runtime.ts";

const cli = fileURLToPath(new URL("./_cli_main.ts", import.meta.url));

function cliIn(dir: string) {
  return (...args: string[]): Promise<ChildResult> =>
    runScript(cli, ["--dir", join(dir, "state"), "--namespace", "wf", ...args], { cwd: dir });
}

function lines(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

test("cli step: runs a command once, passes its exit code, records and resets", async () => {
  const dir = tempDir();
  const run = cliIn(dir);
  try {
    const append = ["--", "sh", "-c", "echo out; echo err >&2; echo x >> log"];
    let r = await run("step", "--name", "build", ...append);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "out");
    assert.match(r.stderr, /err/);
    r = await run("step", "--name", "build", ...append);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /step "build" is already done: skipped/);
    assert.deepEqual(lines(join(dir, "log")), ["x"]);

    r = await run("step", "--name", "test", "--", "sh", "-c", "echo failing; exit 7");
    assert.equal(r.code, 7);
    assert.match(r.stderr, /step "test" failed: exited with code 7/);
    r = await run("steps", "--json");
    const list = JSON.parse(r.stdout);
    assert.deepEqual(list.map((s: { name: string; status: string }) => [s.name, s.status]), [
      ["build", "done"],
      ["test", "failed"],
    ]);
    assert.deepEqual(list[0].result.output, ["out", "err"]);
    assert.equal(list[0].result.exitCode, 0);
    assert.match(list[1].error, /exited with code 7; last output:\nfailing/);
    r = await run("steps");
    assert.match(r.stdout, /^NAME\s+STATUS\s+ATTEMPTS/);
    assert.match(r.stdout, /test\s+failed\s+1/);

    r = await run("step", "--name", "build", "--always", ...append);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(lines(join(dir, "log")), ["x", "x"]);
    r = await run("step", "--reset", "build", "--json");
    assert.deepEqual(JSON.parse(r.stdout), { reset: ["build"] });
    r = await run("step", "--name", "build", "--json", ...append);
    assert.deepEqual(JSON.parse(r.stdout).skipped, false);
    assert.match(r.stderr, /out/); // under --json the command's stdout goes to stderr
    assert.deepEqual(lines(join(dir, "log")), ["x", "x", "x"]);

    r = await run("step", "--reset", "nope");
    assert.equal(r.code, 3);
    r = await run("step", "--name", "x");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Give the command after "--"/);
    r = await run("step", "--name", "x", "--", "no-such-command-here");
    assert.equal(r.code, 127);
    r = await run("save", "--key", "@ms/step/build", "--value", "1");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /holds step records/);
  } finally {
    removeDir(dir);
  }
});

test("cli step: of two racing runners one runs the command; --no-wait exits 4", async () => {
  const dir = tempDir();
  const run = cliIn(dir);
  try {
    const slow = ["--", "sh", "-c", "sleep 1.5; echo x >> log"];
    // A short lease, renewed every third of it: the race outlives it many times.
    const first = run("step", "--name", "slow", "--lease-ms", "300", ...slow);
    // Wait until the first runner holds the lease.
    for (let i = 0; i < 200; i++) {
      const r = await run("steps", "--json");
      if (r.code === 0 && JSON.parse(r.stdout).length > 0) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    const noWait = await run("step", "--name", "slow", "--no-wait", ...slow);
    assert.equal(noWait.code, 4, noWait.stderr);
    assert.match(noWait.stderr, /is being run by process/);
    const waiting = await run("step", "--name", "slow", ...slow);
    const done = await first;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(waiting.code, 0, waiting.stderr);
    assert.match(waiting.stderr, /already done: skipped/);
    assert.match(waiting.stderr, /is being run by process \d+ on .+: waiting for it/);
    assert.deepEqual(lines(join(dir, "log")), ["x"]);
  } finally {
    removeDir(dir);
  }
});
