// CLI tests: the seed's documented command lines in a real process, then
// every command, option and exit code in-process through run().
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { run } from "../cli.ts";
import { StateManager } from "../mod.ts";
import { removeDir, runScript, tempDir } from "./_runtime.ts";

const cliPath = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** Runs the CLI in-process in `cwd`-independent mode (always with --dir). */
async function cli(dir: string, args: string[], stdin = "") {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run([...args, "--dir", dir], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    stdin: () => Promise.resolve(stdin),
    stderrIsTty: false,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

test("cli: the seed's commands work exactly as written, in a real process", async () => {
  const cwd = tempDir();
  try {
    const sh = (line: string) => runScript(cliPath, line.split(" "), { cwd });
    let r = await sh("init --backend json --namespace workflow-123");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "Initialized json backend for workflow-123");
    r = await sh("save --key phase --value building");
    assert.equal(r.code, 0, r.stderr);
    r = await sh("load --key phase");
    assert.equal(r.stdout, '"building"\n');
    r = await sh("checkpoint --name after_planning");
    assert.equal(r.stdout.trim(), "Created checkpoint: after_planning");
    await sh("save --key phase --value testing");
    await sh("save --key extra --value 1");
    r = await sh("restore --checkpoint after_planning");
    assert.equal(r.code, 0, r.stderr);
    r = await sh("load --key phase");
    assert.equal(r.stdout, '"building"\n');
    r = await sh("load --key extra");
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr.trim(),
      'error: Key "extra" not found in namespace "workflow-123". Run "keys" to list keys.',
    );
    // init's choice was remembered: the data is where it said, in the JSON layout.
    const state = await StateManager.open({
      backend: "json",
      dir: join(cwd, ".claude/state"),
      namespace: "workflow-123",
    });
    assert.equal(await state.load("phase"), "building");
    await state.close();
  } finally {
    removeDir(cwd);
  }
});

test("cli: save takes JSON, falls back to strings, and --string forces one", async () => {
  const dir = tempDir();
  try {
    await cli(dir, ["save", "--key", "n", "--value", "42"]);
    await cli(dir, ["save", "--key", "s", "--value", "42", "--string"]);
    await cli(dir, ["save", "--key", "w", "--value", "hello world"]);
    await cli(dir, ["save", "--key", "o", "--value", '{"a":[1,true]}']);
    assert.equal((await cli(dir, ["load", "--key", "n"])).out, "42");
    assert.equal((await cli(dir, ["load", "--key", "s"])).out, '"42"');
    assert.equal((await cli(dir, ["load", "--key", "w"])).out, '"hello world"');
    assert.deepEqual(JSON.parse((await cli(dir, ["load", "--key", "o"])).out), { a: [1, true] });
  } finally {
    removeDir(dir);
  }
});

test("cli: values come from files and stdin", async () => {
  const dir = tempDir();
  try {
    const file = join(dir, "v.json");
    writeFileSync(file, JSON.stringify({ big: "x".repeat(100_000) }));
    assert.equal((await cli(dir, ["save", "--key", "f", "--value-file", file])).code, 0);
    assert.equal(
      (JSON.parse((await cli(dir, ["load", "--key", "f"])).out) as { big: string }).big.length,
      100_000,
    );
    assert.equal((await cli(dir, ["save", "--key", "in", "--value", "-"], "[1,2]")).code, 0);
    assert.equal((await cli(dir, ["save", "--key", "in2", "--value-file", "-"], '"x"')).code, 0);
    assert.deepEqual(JSON.parse((await cli(dir, ["load", "--key", "in"])).out), [1, 2]);
    assert.equal((await cli(dir, ["load", "--key", "in2"])).out, '"x"');
    writeFileSync(file, "{not json");
    const bad = await cli(dir, ["save", "--key", "f", "--value-file", file]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error: --value-file .* is not valid JSON/);
    const missing = await cli(dir, ["save", "--key", "f", "--value-file", join(dir, "nope")]);
    assert.equal(missing.code, 2);
    // The failed saves changed nothing.
    assert.equal(
      (JSON.parse((await cli(dir, ["load", "--key", "f"])).out) as { big: string }).big.length,
      100_000,
    );
  } finally {
    removeDir(dir);
  }
});

test("cli: keys, checkpoints, diff, delete and namespaces, as text and --json", async () => {
  const dir = tempDir();
  try {
    const ns = ["--namespace", "wf"];
    for (const k of ["task:1", "task:2", "phase"]) {
      await cli(dir, ["save", ...ns, "--key", k, "--value", "1"]);
    }
    assert.equal((await cli(dir, ["keys", ...ns])).out, "phase\ntask:1\ntask:2");
    assert.equal((await cli(dir, ["keys", ...ns, "--prefix", "task:"])).out, "task:1\ntask:2");
    const page = await cli(dir, ["keys", ...ns, "--limit", "2", "--json"]);
    assert.deepEqual(JSON.parse(page.out), { keys: ["phase", "task:1"], cursor: "task:1" });
    const cp = await cli(dir, [
      "checkpoint",
      ...ns,
      "--name",
      "cp1",
      "--metadata",
      '{"phase":"plan"}',
      "--json",
    ]);
    assert.deepEqual(JSON.parse(cp.out), { name: "cp1" });
    const dup = await cli(dir, ["checkpoint", ...ns, "--name", "cp1"]);
    assert.equal(dup.code, 4);
    assert.match(dup.err, /already exists/);
    await cli(dir, ["save", ...ns, "--key", "phase", "--value", "2"]);
    await cli(dir, ["delete", ...ns, "--key", "task:1"]);
    await cli(dir, ["save", ...ns, "--key", "new", "--value", "1"]);
    assert.equal(
      (await cli(dir, ["diff", ...ns, "--from", "cp1"])).out,
      "+ new\n- task:1\n~ phase",
    );
    const list = JSON.parse((await cli(dir, ["checkpoints", ...ns, "--json"])).out);
    assert.equal(list.length, 1);
    assert.equal(list[0].name, "cp1");
    assert.equal(list[0].keyCount, 3);
    assert.deepEqual(list[0].metadata, { phase: "plan" });
    const tableOut = (await cli(dir, ["checkpoints", ...ns])).out.split("\n");
    assert.match(tableOut[0]!, /^NAME\s+CREATED\s+KEYS\s+SIZE\s+METADATA$/);
    assert.match(tableOut[1]!, /^cp1 \*\s+\d{4}-\d\d-\d\dT.*Z\s+3\s+\d+ B\s+\{"phase":"plan"\}$/);
    assert.equal((await cli(dir, ["namespaces"])).out, "wf");
    assert.deepEqual(JSON.parse((await cli(dir, ["namespaces", "--json"])).out), ["wf"]);
    const info = JSON.parse((await cli(dir, ["info", ...ns, "--json"])).out);
    assert.deepEqual(
      [info.backend, info.namespace, info.keys, info.checkpoints],
      ["json", "wf", 3, 1],
    );
    assert.equal((await cli(dir, ["delete", ...ns, "--checkpoint", "cp1"])).code, 0);
    const gone = await cli(dir, ["restore", ...ns, "--checkpoint", "cp1"]);
    assert.equal(gone.code, 3);
    assert.match(gone.err, /checkpoint "cp1" in namespace "wf": not found\. Run "checkpoints"/);
  } finally {
    removeDir(dir);
  }
});

test("cli: bad input gives a usage error and changes nothing", async () => {
  const dir = tempDir();
  try {
    await cli(dir, ["save", "--key", "k", "--value", "1"]);
    const cases: [string[], number, RegExp][] = [
      [["frobnicate"], 2, /Unknown command "frobnicate"/],
      [["save", "--value", "1"], 2, /Missing --key/],
      [["save", "--key", "k"], 2, /exactly one of --value or --value-file/],
      [["save", "--key", "k", "--value", "1", "--bogus"], 2, /Unknown option '--bogus'/],
      [
        ["save", "--key", "k", "--value", "2", "--backend", "nosuch"],
        2,
        /Unknown backend "nosuch"/,
      ],
      [
        ["save", "--key", "k", "--value", "2", "--namespace", "../x"],
        2,
        /Namespace "..\/x" is invalid/,
      ],
      [["save", "--key", "k", "--value", "2", "--ttl-ms", "-5"], 2, /--ttl-ms/],
      [["keys", "--limit", "0"], 2, /--limit must be a positive integer/],
      [["checkpoint", "--metadata", "[1"], 2, /--metadata must be a JSON object/],
      [["checkpoint", "--metadata", "[1]"], 2, /metadata must be a plain JSON object/],
      [["delete"], 2, /Give --key, --checkpoint, or --namespace NS --yes/],
      [["load"], 2, /Missing --key/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(dir, args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.err.split("\n").length, 1, "one line, no stack trace");
    }
    assert.equal((await cli(dir, ["load", "--key", "k"])).out, "1");
    assert.equal((await cli(dir, ["keys"])).out, "k");
    assert.equal((await cli(dir, ["checkpoints", "--json"])).out, "[]");
  } finally {
    removeDir(dir);
  }
});

test("cli: settings come from flags, then environment, then init's config", async () => {
  const dir = tempDir();
  const saved = { ...process.env };
  try {
    await cli(dir, ["init", "--backend", "sqlite", "--namespace", "from-config"]);
    await cli(dir, ["save", "--key", "k", "--value", "config"]);
    process.env.MANAGING_STATE_NAMESPACE = "from-env";
    await cli(dir, ["save", "--key", "k", "--value", "env"]);
    await cli(dir, ["save", "--key", "k", "--value", "flag", "--namespace", "from-flag"]);
    delete process.env.MANAGING_STATE_NAMESPACE;
    const open = (namespace: string) => StateManager.open({ backend: "sqlite", dir, namespace });
    for (
      const [ns, value] of [["from-config", "config"], ["from-env", "env"], ["from-flag", "flag"]]
    ) {
      const s = await open(ns!);
      assert.equal(await s.load("k"), value);
      await s.close();
    }
  } finally {
    process.env = saved;
    removeDir(dir);
  }
});

test("cli: --help lists commands and each command's options", async () => {
  const dir = tempDir();
  try {
    const main = await cli(dir, ["--help"]);
    assert.equal(main.code, 0);
    for (const c of ["init", "save", "load", "checkpoint", "restore", "recover", "info"]) {
      assert.match(main.out, new RegExp(`^  ${c} `, "m"));
    }
    const save = await cli(dir, ["save", "--help"]);
    assert.equal(save.code, 0);
    assert.match(save.out, /--value-file <value>/);
    assert.match(save.out, /--json/);
  } finally {
    removeDir(dir);
  }
});

test("cli: --url names the Deno KV database, for every command", async () => {
  const dir = tempDir();
  try {
    const url = join(dir, "shared.kv");
    const kv = ["--backend", "kv", "--url", url, "--namespace", "wf"];
    assert.equal(
      (await cli(dir, ["save", ...kv, "--key", "phase", "--value", "building"])).code,
      0,
    );
    const file = join(dir, "e.jsonl");
    assert.equal((await cli(dir, ["export", ...kv, "--file", file])).code, 0);
    const s = await StateManager.open({ backend: "kv", path: url, namespace: "wf" });
    assert.equal(await s.load("phase"), "building");
    await s.close();
    const other = join(dir, "other.kv");
    const r = await cli(dir, ["import", "--backend", "kv", "--url", other, "--file", file]);
    assert.equal(r.code, 0, r.err);
    const t = await StateManager.open({ backend: "kv", path: other, namespace: "wf" });
    assert.equal(await t.load("phase"), "building");
    await t.close();
  } finally {
    removeDir(dir);
  }
});
