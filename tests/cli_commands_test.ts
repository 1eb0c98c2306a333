// CLI tests, part two: every command's --json shape, exit codes 0 to 4,
// --debug, global options before the command, paging, info, namespaces.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { run } from "../cli.ts";
import { COMMANDS } from "../cli/_commands.ts";
import { StateManager } from "../mod.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** Runs the CLI in-process with `--dir dir` appended. */
async function cli(dir: string, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run([...args, "--dir", dir], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    stdin: () => Promise.resolve(""),
    stderrIsTty: false,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Runs a command that must succeed with --json and returns the parsed document. */
async function json(dir: string, args: string[]): Promise<unknown> {
  const r = await cli(dir, [...args, "--json"]);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
  return JSON.parse(r.out);
}

test("cli: every command's --json output is one JSON document of a fixed shape", async () => {
  const dir = tempDir();
  try {
    const ns = ["--namespace", "wf"];
    assert.deepEqual(await json(dir, ["init", "--backend", "json", ...ns]), {
      backend: "json",
      namespace: "wf",
      config: join(dir, ".managing-state.json"),
    });
    assert.deepEqual(await json(dir, ["save", "--key", "a", "--value", "1"]), {
      key: "a",
      saved: true,
    });
    assert.deepEqual(await json(dir, ["load", "--key", "a"]), 1);
    assert.deepEqual(await json(dir, ["checkpoint", "--name", "one"]), { name: "one" });
    await cli(dir, ["save", "--key", "b", "--value", '{"x":[true,null]}']);
    await cli(dir, ["save", "--key", "a", "--value", "2"]);
    assert.deepEqual(await json(dir, ["checkpoint", "--name", "two"]), { name: "two" });
    const auto = (await json(dir, ["checkpoint"])) as { name: string };
    assert.match(auto.name, /^auto-/);
    assert.deepEqual(await json(dir, ["keys"]), { keys: ["a", "b"], cursor: null });
    const list = (await json(dir, ["checkpoints"])) as Record<string, unknown>[];
    assert.deepEqual(list.map((c) => c.name), [auto.name, "two", "one"]);
    assert.deepEqual(Object.keys(list[2]!).sort(), [
      "auto",
      "bytes",
      "createdAt",
      "head",
      "keyCount",
      "metadata",
      "name",
      "parent",
    ]);
    assert.deepEqual(
      [list[2]!.keyCount, list[2]!.auto, list[0]!.auto],
      [1, false, true],
    );
    assert.deepEqual(await json(dir, ["diff", "--from", "one", "--to", "two"]), {
      added: ["b"],
      removed: [],
      changed: ["a"],
    });
    assert.equal((await cli(dir, ["diff", "--from", "one", "--to", "two"])).out, "+ b\n~ a");
    assert.deepEqual(await json(dir, ["diff", "--from", "two"]), {
      added: [],
      removed: [],
      changed: [],
    });
    assert.deepEqual(await json(dir, ["restore", "--checkpoint", "one"]), { restored: "one" });
    assert.deepEqual(await json(dir, ["keys"]), { keys: ["a"], cursor: null });
    assert.deepEqual(await json(dir, ["delete", "--key", "a"]), { key: "a", deleted: true });
    assert.deepEqual(await json(dir, ["delete", "--checkpoint", "two"]), {
      checkpoint: "two",
      deleted: true,
    });
    assert.deepEqual(await json(dir, ["recover"]), { actions: [], quarantined: [], ok: true });
    assert.deepEqual(await json(dir, ["namespaces"]), ["wf"]);
    const info = (await json(dir, ["info"])) as Record<string, unknown>;
    assert.deepEqual(info, {
      backend: "json",
      namespace: "wf",
      location: join(dir, "wf"),
      keys: 0,
      bytes: 0,
      checkpoints: 2,
      checkpointBytes: (list[0]!.bytes as number) + (list[2]!.bytes as number),
      namespaces: 1,
      diskBytes: info.diskBytes,
      config: join(dir, ".managing-state.json"),
    });
    assert.ok((info.diskBytes as number) > 0);
  } finally {
    removeDir(dir);
  }
});

test("cli: info counts keys and bytes page by page, on json and sqlite", async () => {
  const dir = tempDir();
  try {
    for (const backend of ["json", "sqlite"] as const) {
      const state = await StateManager.open({ backend, dir, namespace: "big" });
      const values: Record<string, unknown> = {};
      for (let i = 0; i < 1234; i++) values[`k${i}`] = i;
      await state.saveMany(values);
      await state.checkpoint("cp");
      await state.close();
      const info = (await json(dir, ["info", "--backend", backend, "--namespace", "big"])) as {
        keys: number;
        bytes: number;
        checkpoints: number;
        checkpointBytes: number;
        diskBytes: number;
        location: string;
      };
      const expected = Object.entries(values).reduce(
        (n, [k, v]) => n + k.length + JSON.stringify(v).length,
        0,
      );
      assert.equal(info.keys, 1234);
      assert.equal(info.bytes, expected);
      assert.equal(info.checkpoints, 1);
      assert.equal(info.checkpointBytes, expected);
      assert.ok(info.diskBytes > expected, `${backend}: ${info.diskBytes}`);
      assert.equal(info.location, backend === "json" ? join(dir, "big") : join(dir, "state.db"));
      const text = await cli(dir, ["info", "--backend", backend, "--namespace", "big"]);
      assert.match(text.out, /^keys:\s+1234$/m);
      assert.match(text.out, /^bytes:\s+\d+(\.\d)? KiB$/m);
    }
  } finally {
    removeDir(dir);
  }
});

test("cli: keys lists a namespace of several pages, and pages on request", async () => {
  const dir = tempDir();
  try {
    const state = await StateManager.open({ backend: "json", dir, namespace: "many" });
    const keys = Array.from({ length: 2500 }, (_, i) => `task:${String(i).padStart(5, "0")}`);
    await state.saveMany(Object.fromEntries(keys.map((k) => [k, true])));
    await state.save("phase", "build");
    await state.close();
    const ns = ["--namespace", "many"];
    const all = await cli(dir, ["keys", ...ns]);
    assert.deepEqual(all.out.split("\n"), ["phase", ...keys]);
    assert.equal(all.err, "");
    assert.deepEqual(await json(dir, ["keys", ...ns, "--prefix", "task:"]), {
      keys,
      cursor: null,
    });
    const page = await cli(dir, ["keys", ...ns, "--prefix", "task:", "--limit", "1000"]);
    assert.deepEqual(page.out.split("\n"), keys.slice(0, 1000));
    assert.equal(page.err, `more keys: add --cursor "${keys[999]}"`);
    const rest = await cli(dir, ["keys", ...ns, "--prefix", "task:", "--cursor", keys[999]!]);
    assert.deepEqual(rest.out.split("\n"), keys.slice(1000));
  } finally {
    removeDir(dir);
  }
});

test("cli: exit codes 0 to 4, each with one line on stderr", async () => {
  const dir = tempDir();
  try {
    const ns = ["--namespace", "wf"];
    assert.equal((await cli(dir, ["save", ...ns, "--key", "a", "--value", "1"])).code, 0);
    assert.equal((await cli(dir, ["checkpoint", ...ns, "--name", "cp"])).code, 0);
    const cases: [string[], number, RegExp][] = [
      [["load", "--key", "nope"], 3, /Key "nope" not found in namespace "wf"\. Run "keys"/],
      [["restore", "--checkpoint", "nope"], 3, /checkpoint "nope" .*Run "checkpoints"/],
      [["diff", "--from", "nope"], 3, /checkpoint "nope"/],
      [["diff", "--from", "cp", "--to", "nope"], 3, /checkpoint "nope"/],
      [["delete", "--checkpoint", "nope"], 3, /checkpoint "nope"/],
      [["checkpoint", "--name", "cp"], 4, /already exists/],
      [["restore"], 2, /Missing --checkpoint/],
      [["diff", "--from", ""], 2, /Missing --from/],
      [["load", "--key", "a", "extra"], 2, /Unexpected argument 'extra'/],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli(dir, [...args, ...ns]);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.out, "");
      assert.equal(r.err.split("\n").length, 1, r.err);
      assert.match(r.err, /^error: /);
    }
    // 4 is replaced by success with --overwrite.
    assert.equal((await cli(dir, ["checkpoint", ...ns, "--name", "cp", "--overwrite"])).code, 0);
    // 1: damaged state; the message says to run recover, which repairs it.
    writeFileSync(join(dir, "wf", "state.json"), "{ torn\nacross lines");
    const damaged = await cli(dir, ["load", ...ns, "--key", "a"]);
    assert.equal(damaged.code, 1);
    assert.equal(damaged.err.split("\n").length, 1, damaged.err);
    assert.match(damaged.err, /damaged.*"recover"/);
    const report = (await json(dir, ["recover", ...ns])) as { ok: boolean; quarantined: [] };
    assert.equal(report.ok, true);
    assert.equal(report.quarantined.length, 1);
    assert.equal((await cli(dir, ["load", ...ns, "--key", "a"])).out, "1");
  } finally {
    removeDir(dir);
  }
});

test("cli: --debug adds the stack trace; without it there is none", async () => {
  const dir = tempDir();
  try {
    const plain = await cli(dir, ["load", "--key", "nope"]);
    const debug = await cli(dir, ["load", "--key", "nope", "--debug"]);
    assert.equal(plain.code, 3);
    assert.equal(debug.code, 3);
    assert.equal(plain.err.split("\n").length, 1);
    assert.equal(debug.err.split("\n")[0], plain.err);
    assert.match(debug.err, /KeyNotFoundError[\s\S]*\n\s+at /);
    // Usage errors found while parsing also honour --debug.
    const bad = await cli(dir, ["frobnicate", "--debug"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /UsageError[\s\S]*\n\s+at /);
  } finally {
    removeDir(dir);
  }
});

test("cli: global options may come before the command", async () => {
  const dir = tempDir();
  try {
    const out: string[] = [];
    const io = {
      out: (t: string) => out.push(t),
      err: () => {},
      stdin: () => Promise.resolve(""),
      stderrIsTty: false,
    };
    assert.equal(
      await run(["--dir", dir, "--namespace", "wf", "save", "--key", "k", "--value", "v"], io),
      0,
    );
    assert.equal(await run(["--json", "--dir", dir, "keys", "--namespace", "wf"], io), 0);
    assert.deepEqual(JSON.parse(out.at(-1)!), { keys: ["k"], cursor: null });
    const none = await cli(dir, ["--json"]);
    assert.equal(none.code, 2);
    assert.match(none.err, /No command given before --json/);
  } finally {
    removeDir(dir);
  }
});

test("cli: --help works for every command; no command prints usage and exits 2", async () => {
  const dir = tempDir();
  try {
    for (const name of Object.keys(COMMANDS)) {
      const r = await cli(dir, [name, "--help"]);
      assert.equal(r.code, 0, name);
      assert.match(r.out, new RegExp(`^Usage: managing-state ${name}\\b`, "m"));
      for (const option of ["--backend", "--namespace", "--dir", "--url", "--json", "--help"]) {
        assert.ok(r.out.includes(option), `${name} --help lacks ${option}`);
      }
      for (const option of Object.keys(COMMANDS[name]!.options)) {
        assert.ok(r.out.includes(`--${option}`), `${name} --help lacks --${option}`);
      }
    }
    const out: string[] = [];
    const code = await run([], {
      out: (t) => out.push(t),
      err: () => {},
      stdin: () => Promise.resolve(""),
      stderrIsTty: false,
    });
    assert.equal(code, 2);
    assert.match(out.join("\n"), /^Usage: managing-state <command>/m);
  } finally {
    removeDir(dir);
  }
});

test("cli: namespaces ignores init's config and a SQLite file in the same folder", async () => {
  const dir = tempDir();
  try {
    await cli(dir, ["init", "--backend", "json", "--namespace", "wf"]);
    await cli(dir, ["save", "--key", "k", "--value", "1"]);
    await cli(dir, [
      "save",
      "--key",
      "k",
      "--value",
      "1",
      "--backend",
      "sqlite",
      "--namespace",
      "q",
    ]);
    const r = await cli(dir, ["namespaces"]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "wf");
    assert.deepEqual(await json(dir, ["namespaces", "--backend", "sqlite"]), ["q"]);
  } finally {
    removeDir(dir);
  }
});

test("cli: settings precedence holds for backend and dir too", async () => {
  const dir = tempDir();
  const other = tempDir();
  const saved = { ...process.env };
  try {
    await cli(dir, ["init", "--backend", "sqlite", "--namespace", "wf"]);
    await cli(dir, ["save", "--key", "where", "--value", "config"]);
    process.env.MANAGING_STATE_BACKEND = "json";
    await cli(dir, ["save", "--key", "where", "--value", "env"]);
    await cli(dir, ["save", "--key", "where", "--value", "flag", "--backend", "memory"]);
    delete process.env.MANAGING_STATE_BACKEND;
    assert.equal((await cli(dir, ["load", "--key", "where"])).out, '"config"');
    assert.equal((await cli(dir, ["load", "--key", "where", "--backend", "json"])).out, '"env"');
    // The state folder comes from the environment when no --dir is given.
    process.env.MANAGING_STATE_DIR = other;
    const io = {
      out: () => {},
      err: () => {},
      stdin: () => Promise.resolve(""),
      stderrIsTty: false,
    };
    assert.equal(await run(["save", "--key", "k", "--value", "1"], io), 0);
    delete process.env.MANAGING_STATE_DIR;
    assert.equal((await cli(other, ["load", "--key", "k"])).out, "1");
    // A damaged config file is a usage error that names the file.
    writeFileSync(join(dir, ".managing-state.json"), "{");
    const bad = await cli(dir, ["keys"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /\.managing-state\.json is not valid JSON: fix it or run "init"/);
  } finally {
    process.env = saved;
    removeDir(dir);
    removeDir(other);
  }
});
