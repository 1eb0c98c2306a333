// The CLI under hostile input (issue 21, rows 4, 14 and 15): `info` does not
// follow links while adding up disk use; the config never holds a password,
// never lends one backend's URL to another and cannot send state to a server
// by itself; names reach the terminal escaped.
import assert from "node:assert/strict";
import { chmodSync, existsSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { run } from "../cli.ts";
import { resolveSettings } from "../cli/_config.ts";
import { redactText } from "../cli/_redact.ts";
import { cliWithin } from "./_hostile.ts";
import { removeDir, runCommand, tempDir } from "./_runtime.ts";

const posix = process.platform !== "win32";

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    stdin: () => Promise.resolve(""),
    stderrIsTty: false,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

test(
  "hostile #4: info adds up regular files only and never follows a link (a link to / costs nothing)",
  {
    skip: !posix && "POSIX links and FIFOs",
  },
  async () => {
    const dir = tempDir();
    try {
      assert.equal((await cli(["save", "--dir", dir, "--key", "a", "--value", "1"])).code, 0);
      const ns = join(dir, "default");
      symlinkSync("/", join(ns, "root"));
      symlinkSync("/dev/zero", join(ns, "zero"));
      assert.equal((await runCommand("mkfifo", [join(ns, "fifo")])).code, 0);
      const r = await cliWithin(["info", "--dir", dir, "--json"]);
      assert.equal(r.code, 0, r.err);
      const info = JSON.parse(r.out) as { diskBytes: number; keys: number };
      assert.equal(info.keys, 1);
      assert.ok(info.diskBytes > 0 && info.diskBytes < 10_000, String(info.diskBytes));
    } finally {
      removeDir(dir);
    }
  },
);

test("hostile #14: the config never holds a password: init refuses one, and leaves a URL from the environment there", async () => {
  const dir = tempDir();
  try {
    const config = join(dir, ".managing-state.json");
    const refused = await cli(["init", "--dir", dir, "--url", "redis://:hunter22@h:6379"]);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /Refusing to save a password .*MANAGING_STATE_URL/);
    assert.ok(!refused.err.includes("hunter22"));
    assert.equal(existsSync(config), false);
    assert.deepEqual(readdirSync(dir), [], "refused before anything was written");
    const fromEnv = await cliWithin(["init", "--dir", dir, "--backend", "json"], {
      env: { MANAGING_STATE_URL: "redis://:hunter22@h:6379" },
    });
    assert.equal(fromEnv.code, 0, fromEnv.err);
    const { readFileSync } = await import("node:fs");
    const saved = readFileSync(config, "utf8");
    assert.ok(!saved.includes("hunter22"), saved);
    assert.equal(JSON.parse(saved).url, undefined);
  } finally {
    removeDir(dir);
  }
});

/** Writes a config as init does on this machine (its host, mode 0600), or as a checked-out copy. */
function writeConfig(dir: string, doc: object, byInit: boolean): void {
  const text = JSON.stringify(byInit ? { ...doc, host: hostname() } : doc);
  const path = join(dir, ".managing-state.json");
  writeFileSync(path, text);
  chmodSync(path, byInit ? 0o600 : 0o644);
}

test("hostile #14: a URL saved for Redis is never taken as a Deno KV path", async () => {
  const root = tempDir();
  try {
    const dir = join(root, "state");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir, { mode: 0o700 });
    writeConfig(dir, { backend: "redis", namespace: "wf", url: "redis://:hunter22@h:6379" }, true);
    const r = await cliWithin(
      ["save", "--backend", "kv", "--dir", dir, "--key", "k", "--value", "1"],
      { cwd: root },
    );
    assert.equal(r.code, 0, r.err);
    const names = readdirSync(root, { recursive: true }).map(String);
    assert.ok(!names.some((n) => n.startsWith("redis") || n.includes("hunter22")), names.join());
    assert.ok(existsSync(join(dir, "state.kv")), "the KV database is where KV keeps it");
    // A Redis URL given to Deno KV is refused, not opened as a file.
    const wrong = await cliWithin(
      [
        "save",
        "--backend",
        "kv",
        "--url",
        "redis://h:6379/0",
        "--dir",
        dir,
        "--key",
        "k",
        "--value",
        "1",
      ],
      { cwd: root },
    );
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /Deno KV opens a database file or a KV Connect URL/);
    assert.ok(!readdirSync(root).some((n) => n.startsWith("redis")));
  } finally {
    removeDir(root);
  }
});

test("hostile #14: a raw @ in a password never leaks its tail", () => {
  const url = "redis://:p@ss@db.example:6379/0";
  const text = `Cannot open Deno KV database "${url}": not found; connect ${url} failed`;
  const shown = redactText(text, url);
  assert.ok(!shown.includes("p@ss") && !shown.includes("ss@db"), shown);
  assert.match(shown, /redis:\/\/:\*\*\*@db\.example:6379\/0/);
  assert.equal(redactText("rediss://user:a@b@c@h:1 x", undefined), "rediss://user:***@h:1 x");
});

test("hostile #14: a config that init did not write on this machine cannot send state to a server", async () => {
  const dir = tempDir();
  try {
    // As checked into a repository: no host of ours, mode 0644.
    writeConfig(
      dir,
      { backend: "redis", namespace: "wf", url: "redis://evil.example:6379" },
      false,
    );
    const r = await cli(["save", "--dir", dir, "--key", "k", "--value", "secret"]);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      /not written by "init" on this machine and sends state to redis:\/\/evil\.example:6379.*--url/,
    );
    // Given explicitly, or from a config init wrote here, the URL is used.
    const flags = { dir, url: "redis://mine.example:6379" };
    assert.equal(resolveSettings(flags, {}).url, "redis://mine.example:6379");
    assert.equal(
      resolveSettings({ dir }, { url: "redis://env.example:1" }).url,
      "redis://env.example:1",
    );
    writeConfig(dir, { backend: "redis", namespace: "wf", url: "redis://evil.example:6379" }, true);
    assert.equal(resolveSettings({ dir }, {}).url, "redis://evil.example:6379");
    // A local backend named by such a config is fine: nothing leaves the machine.
    writeConfig(dir, { backend: "json", namespace: "wf" }, false);
    assert.equal((await cli(["save", "--dir", dir, "--key", "k", "--value", "1"])).code, 0);
    if (posix) {
      // A config linked to /dev/zero is refused at once, not read forever.
      const { rmSync } = await import("node:fs");
      rmSync(join(dir, ".managing-state.json"));
      symlinkSync("/dev/zero", join(dir, ".managing-state.json"));
      const zero = await cliWithin(["keys", "--dir", dir]);
      assert.equal(zero.code, 2);
      assert.match(zero.err, /managing-state\.json cannot be used .*symbolic link/);
    }
  } finally {
    removeDir(dir);
  }
});

// deno-lint-ignore no-control-regex
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test("hostile #15: keys and names reach the terminal escaped; --json stays exact", async () => {
  const dir = tempDir();
  try {
    const keys = ["a\n+ fake", "\x1b]0;pwned\x07title", "\u009b31mred", "\u202eevil", "\r\x1b[2K"];
    const c = (...args: string[]) => cli([...args, "--dir", dir]);
    assert.equal((await c("checkpoint", "--name", "start\x1b[31m")).code, 0);
    for (const key of keys) {
      const saved = await c("save", "--key", key, "--value", '"\u009b\u202e"');
      assert.equal(saved.code, 0);
      assert.ok(!RAW.test(saved.out) && !saved.out.includes("\n"), JSON.stringify(saved.out));
    }
    const listed = await c("keys");
    assert.ok(!RAW.test(listed.out), JSON.stringify(listed.out));
    assert.equal(listed.out.split("\n").length, keys.length, "one line per key");
    const diff = await c("diff", "--from", "start\x1b[31m");
    assert.ok(!RAW.test(diff.out), JSON.stringify(diff.out));
    assert.deepEqual(diff.out.split("\n").map((l) => l.slice(0, 2)), keys.map(() => "+ "));
    const table = await c("checkpoints");
    assert.ok(!RAW.test(table.out) && table.out.includes("start\\x1b[31m"), table.out);
    const missing = await c("load", "--key", "\x1b[2Jgone");
    assert.equal(missing.code, 3);
    assert.ok(!RAW.test(missing.err), JSON.stringify(missing.err));
    const loaded = await c("load", "--key", keys[2]!);
    assert.ok(!RAW.test(loaded.out));
    assert.equal(JSON.parse(loaded.out), "\u009b\u202e", "still the same JSON");
    // --json: exact.
    const exact = JSON.parse((await c("keys", "--json")).out) as { keys: string[] };
    assert.deepEqual([...exact.keys].sort(), [...keys].sort());
  } finally {
    removeDir(dir);
  }
});
