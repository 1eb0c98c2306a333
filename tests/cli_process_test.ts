// The CLI as a real process under the `cli` task's narrow permissions: it
// starts without ioredis, Deno KV or the npm cache, reads stdin, and writes
// nothing extra to stderr when it is not a terminal.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { isDeno, removeDir, runCommand, tempDir } from "./_runtime.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const cliPath = join(root, "cli.ts");
const skip = !isDeno && "checks Deno's module graph and permissions";

/** The `cli` task's permission flags, as deno.json has them. */
function taskFlags(task: string): string[] {
  const tasks = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).tasks;
  const m = /^deno run (.*) cli\.ts$/.exec(tasks[task] ?? "");
  assert.ok(m, `task ${task} is "deno run <flags> cli.ts"`);
  return m[1]!.split(" ");
}

test("cli: the cli task grants no net, run or ffi, and only .claude on disk", { skip }, () => {
  const flags = taskFlags("cli");
  for (const f of flags) assert.match(f, /^--allow-(read|write|env|sys)=/, f);
  assert.ok(flags.includes("--allow-read=.claude"));
  assert.ok(flags.includes("--allow-write=.claude"));
  const net = taskFlags("cli:net");
  assert.ok(net.includes("--allow-net") && net.includes("--unstable-kv"));
});

test("cli: the static module graph of cli.ts holds no npm package or heavy backend", {
  skip,
}, async () => {
  const r = await runCommand(process.execPath, ["info", "--json", cliPath], { cwd: root });
  assert.equal(r.code, 0, r.stderr);
  const graph = JSON.parse(r.stdout) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  // What `deno run cli.ts` evaluates at start-up: static code imports only.
  const seen = new Set<string>();
  const walk = (specifier: string) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic) walk(dep.code.specifier);
    }
  };
  const start = graph.modules.find((m) => m.specifier.endsWith("/cli.ts"))!.specifier;
  walk(start);
  const loaded = [...seen];
  assert.ok(loaded.some((s) => s.endsWith("/state_manager.ts")), "the walk found the core");
  const heavy = loaded.filter((s) =>
    s.startsWith("npm:") || s === "node:sqlite" ||
    /\/backends\/(_?(redis|kv)[^/]*|sqlite)\.ts$/.test(s)
  );
  assert.deepEqual(heavy, []);
});

test("cli: json and sqlite work under the cli task's flags, with no npm cache and no net", {
  skip,
}, async () => {
  const cwd = tempDir();
  const denoDir = tempDir("ms-deno-dir-"); // empty: an npm import would fail with --cached-only
  try {
    const flags = taskFlags("cli");
    const sh = (args: string[], input?: string) =>
      runCommand(process.execPath, ["run", "--cached-only", ...flags, cliPath, ...args], {
        cwd,
        env: { DENO_DIR: denoDir },
        ...(input === undefined ? {} : { input }),
      });
    const ok = async (args: string[], stdout?: string, input?: string) => {
      const r = await sh(args, input);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr, "", `${args.join(" ")} wrote to stderr`);
      if (stdout !== undefined) assert.equal(r.stdout, stdout, args.join(" "));
      return r.stdout;
    };
    await ok(["init", "--backend", "json", "--namespace", "wf"]);
    await ok(["save", "--key", "plan", "--value", "-"], "Saved plan\n", '{"steps": [1, 2]}');
    await ok(["save", "--key", "raw", "--value-file", "-"], "Saved raw\n", '"text"');
    await ok(["load", "--key", "plan", "--json"], '{\n  "steps": [\n    1,\n    2\n  ]\n}\n');
    await ok(["checkpoint", "--name", "cp"]);
    await ok(["save", "--key", "extra", "--value", "1"]);
    await ok(["diff", "--from", "cp"], "+ extra\n");
    await ok(["restore", "--checkpoint", "cp"], "Restored from: cp\n");
    await ok(["keys"], "plan\nraw\n");
    await ok(["checkpoints"]);
    await ok(["namespaces"], "wf\n");
    await ok(["recover"], "nothing to recover\n");
    assert.equal(JSON.parse(await ok(["info", "--json"])).keys, 2);
    await ok(["save", "--backend", "sqlite", "--key", "k", "--value", "v"]);
    await ok(["load", "--backend", "sqlite", "--key", "k"], '"v"\n');
    // Outside the granted folder: one line that names the flag, exit 1, nothing written.
    const outside = join(tempDir(), "value.json");
    writeFileSync(outside, "1");
    const denied = await sh(["save", "--key", "plan", "--value-file", outside]);
    assert.equal(denied.code, 1);
    assert.equal(denied.stderr.trim().split("\n").length, 1, denied.stderr);
    assert.match(denied.stderr, /^error: Requires read access .*--allow-read.*"Permissions"/);
    removeDir(join(outside, ".."));
    await ok(["load", "--key", "plan"], '{\n  "steps": [\n    1,\n    2\n  ]\n}\n');
  } finally {
    removeDir(cwd);
    removeDir(denoDir);
  }
});
