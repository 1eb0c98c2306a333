// CLI tests, part four: safe updates (incr, append, merge, claim, release),
// check-and-set (save --if-absent / --if-version, delete --if-version),
// several keys at once, whole-state reads (dump, load --checkpoint, diff
// --values), delete --namespace, empty stdin, and --help's settings in effect.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { run } from "../cli.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** Runs the CLI in-process with `--dir dir --namespace wf` appended. */
async function cli(dir: string, args: string[], stdin = "") {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run([...args, "--dir", dir, "--namespace", "wf"], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    stdin: () => Promise.resolve(stdin),
    stderrIsTty: false,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function ok(dir: string, args: string[], stdin = ""): Promise<string> {
  const r = await cli(dir, args, stdin);
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
  return r.out;
}

async function fails(dir: string, args: string[], code: number, message: RegExp, stdin = "") {
  const r = await cli(dir, args, stdin);
  assert.equal(r.code, code, `${args.join(" ")}: exit ${r.code}: ${r.err}`);
  assert.match(r.err, message);
  assert.equal(r.out, "");
}

test("cli: incr, append and merge print the new value; other types are refused", async () => {
  const dir = tempDir();
  try {
    assert.equal(await ok(dir, ["incr", "--key", "n"]), "1");
    assert.equal(await ok(dir, ["incr", "--key", "n", "--by", "41"]), "42");
    assert.equal(await ok(dir, ["incr", "--key", "n", "--by=-2.5"]), "39.5");
    assert.equal(
      await ok(dir, ["incr", "--key", "n", "--by", "-1"]),
      "38.5",
      "a negative number is a value",
    );
    assert.equal(await ok(dir, ["incr", "--key", "n", "--by", "1"]), "39.5");
    await fails(
      dir,
      ["incr", "--key", "n", "--by", "-x"],
      2,
      /--by takes a value starting with "-" only as --by=-VALUE/,
    );
    assert.deepEqual(JSON.parse(await ok(dir, ["incr", "--key", "n", "--json"])), {
      key: "n",
      value: 40.5,
    });
    assert.deepEqual(JSON.parse(await ok(dir, ["append", "--key", "log", "--value", "built"])), [
      "built",
    ]);
    assert.deepEqual(
      JSON.parse(await ok(dir, ["append", "--key", "log", "--value", '{"t": 1}'])),
      ["built", { t: 1 }],
    );
    assert.deepEqual(
      JSON.parse(await ok(dir, ["append", "--key", "log", "--value", "7", "--string"])),
      ["built", { t: 1 }, "7"],
    );
    assert.deepEqual(JSON.parse(await ok(dir, ["merge", "--key", "b", "--value", '{"a": 1}'])), {
      a: 1,
    });
    assert.deepEqual(
      JSON.parse(await ok(dir, ["merge", "--key", "b", "--value", '{"b": [2]}', "--json"])),
      { key: "b", value: { a: 1, b: [2] } },
    );
    await fails(dir, ["incr", "--key", "log"], 2, /Cannot increment key "log".*an array/);
    await fails(dir, ["append", "--key", "n", "--value", "1"], 2, /not an array/);
    await fails(dir, ["merge", "--key", "log", "--value", "{}"], 2, /not an object/);
    await fails(dir, ["merge", "--key", "b", "--value", "[1]"], 2, /merge takes a JSON object/);
    await fails(dir, ["incr", "--key", "n", "--by", "x"], 2, /--by must be a number/);
    await fails(dir, ["incr", "--key", "n", "--by", ""], 2, /--by must be a number/);
    await fails(dir, ["incr"], 2, /Missing --key/);
    assert.equal(await ok(dir, ["load", "--key", "n"]), "40.5");
  } finally {
    removeDir(dir);
  }
});

test("cli: check-and-set: --if-absent, --if-version and load --with-version; a failed check exits 4 and writes nothing", async () => {
  const dir = tempDir();
  try {
    await ok(dir, ["save", "--key", "k", "--value", "one", "--if-absent"]);
    await fails(
      dir,
      ["save", "--key", "k", "--value", "two", "--if-absent"],
      4,
      /^error: Key "k" in namespace "wf" already exists: nothing was written\. Run "load --key k --with-version"/,
    );
    const entry = JSON.parse(await ok(dir, ["load", "--key", "k", "--with-version"]));
    assert.deepEqual(Object.keys(entry), ["key", "value", "version", "expiresAt"]);
    assert.equal(entry.value, "one");
    await ok(dir, ["save", "--key", "k", "--value", "three", "--if-version", entry.version]);
    await fails(
      dir,
      ["save", "--key", "k", "--value", "four", "--if-version", entry.version],
      4,
      /is no longer at version/,
    );
    await fails(dir, ["delete", "--key", "k", "--if-version", entry.version], 4, /no longer/);
    assert.equal(await ok(dir, ["load", "--key", "k"]), '"three"');
    const now = JSON.parse(await ok(dir, ["load", "--key", "k", "--with-version"])).version;
    await ok(dir, ["delete", "--key", "k", "--if-version", now]);
    await fails(dir, ["load", "--key", "k", "--with-version"], 3, /not found/);
    assert.deepEqual(
      JSON.parse(await ok(dir, ["load", "--key", "k", "--with-version", "--default", "0"])),
      { key: "k", value: 0, version: null, expiresAt: null },
    );
    await fails(
      dir,
      ["save", "--key", "k", "--value", "1", "--if-version", "v", "--if-absent"],
      2,
      /not both/,
    );
    await fails(
      dir,
      ["delete", "--checkpoint", "c", "--if-version", "v"],
      2,
      /--if-version goes with --key/,
    );
    // A lease: a claim with --ttl-ms, refused to others until it ends.
    await ok(dir, ["save", "--key", "task:1", "--value", "w1", "--if-absent", "--ttl-ms", "60000"]);
    await fails(
      dir,
      ["save", "--key", "task:1", "--value", "w2", "--if-absent"],
      4,
      /^error: Key "task:1" in namespace "wf" already exists: .* "load --key task:1 --with-version"/,
    );
    await fails(dir, ["claim", "--key", "task:1", "--owner", "w2"], 4, /"w1" holds it/);
    await fails(dir, ["release", "--key", "task:1", "--owner", "w2"], 4, /"w1" holds it/);
    assert.equal(
      await ok(dir, ["claim", "--key", "task:1", "--owner", "w1"]),
      "Claimed task:1 for w1",
    );
    const lease = JSON.parse(
      await ok(dir, ["claim", "--key", "task:2", "--owner", "w2", "--json"]),
    );
    assert.deepEqual(Object.keys(lease).sort(), ["expiresAt", "key", "owner", "version"]);
    assert.deepEqual(
      JSON.parse(await ok(dir, ["release", "--key", "task:2", "--owner", "w2", "--json"])),
      {
        key: "task:2",
        released: true,
      },
    );
    assert.equal(
      await ok(dir, ["release", "--key", "task:2", "--owner", "w2"]),
      "task:2 was not held (it expired)",
    );
  } finally {
    removeDir(dir);
  }
});

test("cli: save --values writes several keys in one atomic step, from a flag, a file or stdin", async () => {
  const dir = tempDir();
  try {
    assert.equal(await ok(dir, ["save", "--values", '{"b": [2], "a": 1}']), "Saved a, b");
    assert.deepEqual(JSON.parse(await ok(dir, ["save", "--values", '{"c": 3}', "--json"])), {
      keys: ["c"],
      saved: true,
    });
    const file = join(dir, "v.json");
    writeFileSync(file, '{"d": {"x": true}}');
    await ok(dir, ["save", "--values-file", file]);
    await ok(dir, ["save", "--values", "-"], '{"e": "from stdin"}');
    await fails(
      dir,
      ["save", "--values", '{"a": 9, "f": 1}', "--if-absent"],
      4,
      /Key "a" .*already exists/,
    );
    assert.equal(await ok(dir, ["keys"]), "a\nb\nc\nd\ne", "nothing of a failed write lands");
    await fails(dir, ["save", "--values", "[1]"], 2, /--values must be a JSON object/);
    await fails(dir, ["save", "--values", "{}"], 2, /--values holds no keys/);
    await fails(dir, ["save", "--values", "{"], 2, /--values is not valid JSON/);
    await fails(dir, ["save", "--values", '{"a": 1}', "--key", "a"], 2, /give no --key/);
    await fails(
      dir,
      ["save", "--values", '{"a": 1}', "--if-version", "v"],
      2,
      /--if-version checks one key/,
    );
    await fails(dir, ["save", "--values", '{"a": 1}', "--values-file", file], 2, /not both/);
    await fails(dir, ["save", "--values", '{"": 1}'], 2, /Key must not be empty/);
  } finally {
    removeDir(dir);
  }
});

test("cli: an empty stdin for - is a usage error (exit 2) and writes nothing", async () => {
  const dir = tempDir();
  try {
    for (
      const args of [["--key", "k", "--value", "-"], ["--key", "k", "--value-file", "-"], [
        "--values",
        "-",
      ]]
    ) {
      for (const stdin of ["", "\n", "  \n"]) {
        await fails(dir, ["save", ...args], 2, /read nothing from stdin/, stdin);
      }
    }
    await fails(dir, ["append", "--key", "k", "--value", "-"], 2, /read nothing from stdin/);
    await fails(dir, ["keys"], 0, /^$/);
    assert.equal((await cli(dir, ["keys", "--json"])).out, '{\n  "keys": [],\n  "cursor": null\n}');
  } finally {
    removeDir(dir);
  }
});

test("cli: dump prints the namespace or a checkpoint as one object in byte order; load --checkpoint reads one value", async () => {
  const dir = tempDir();
  try {
    assert.equal(await ok(dir, ["dump"]), "{}");
    await ok(dir, [
      "save",
      "--values",
      '{"b": {"x": [1]}, "10": 10, "2": 2, "task:1": "done", "\u00e9": "e"}',
    ]);
    assert.equal(
      await ok(dir, ["dump"]),
      '{\n  "10": 10,\n  "2": 2,\n  "b": {\n    "x": [\n      1\n    ]\n  },\n  "task:1": "done",\n  "\u00e9": "e"\n}',
    );
    assert.deepEqual(JSON.parse(await ok(dir, ["dump", "--prefix", "task:", "--json"])), {
      "task:1": "done",
    });
    await ok(dir, ["checkpoint", "--name", "cp"]);
    await ok(dir, ["save", "--key", "task:1", "--value", "redo"]);
    assert.deepEqual(
      JSON.parse(await ok(dir, ["dump", "--checkpoint", "cp", "--prefix", "task:"])),
      {
        "task:1": "done",
      },
    );
    assert.equal(await ok(dir, ["load", "--key", "task:1", "--checkpoint", "cp"]), '"done"');
    assert.equal(await ok(dir, ["load", "--key", "task:1"]), '"redo"', "nothing was restored");
    await fails(
      dir,
      ["load", "--key", "task:", "--checkpoint", "cp"],
      3,
      /Key "task:" is not in checkpoint "cp" of namespace "wf"\. Run "dump --checkpoint cp"/,
    );
    assert.equal(
      await ok(dir, ["load", "--key", "nope", "--checkpoint", "cp", "--default", "0"]),
      "0",
    );
    await fails(
      dir,
      ["load", "--key", "b", "--checkpoint", "nope"],
      3,
      /checkpoint "nope".*Run "checkpoints"/,
    );
    await fails(dir, ["dump", "--checkpoint", "nope"], 3, /Run "checkpoints"/);
    await fails(
      dir,
      ["load", "--key", "b", "--checkpoint", "cp", "--with-version"],
      2,
      /drop --checkpoint/,
    );
  } finally {
    removeDir(dir);
  }
});

test("cli: diff --values shows added, removed and old -> new; --json has the documented shape", async () => {
  const dir = tempDir();
  try {
    await ok(dir, ["save", "--values", '{"same": 1, "changed": "old", "gone": [1]}']);
    await ok(dir, ["checkpoint", "--name", "a", "--metadata", '{"phase": "plan"}']);
    await ok(dir, ["save", "--values", '{"changed": "new", "added": {"n": 1}}']);
    await ok(dir, ["delete", "--key", "gone"]);
    assert.equal(
      await ok(dir, ["diff", "--from", "a", "--values"]),
      '+ added = {"n":1}\n- gone = [1]\n~ changed: "old" -> "new"',
    );
    assert.deepEqual(JSON.parse(await ok(dir, ["diff", "--from", "a", "--values", "--json"])), {
      added: { added: { n: 1 } },
      removed: { gone: [1] },
      changed: { changed: { from: "old", to: "new" } },
    });
    await ok(dir, ["checkpoint", "--name", "b"]);
    const none = await cli(dir, ["diff", "--from", "b", "--values"]);
    assert.deepEqual([none.code, none.out, none.err], [0, "", "no differences"]);
    assert.equal(
      (await ok(dir, ["diff", "--from", "a", "--to", "b", "--values"])).split("\n").length,
      3,
    );
    const table = (await ok(dir, ["checkpoints"])).split("\n");
    assert.match(table[0]!, /METADATA$/);
    assert.match(table[2]!, /^a\s.*\{"phase":"plan"\}$/);
    assert.match(table[1]!, /^b\s.*\s-$/);
  } finally {
    removeDir(dir);
  }
});

test("cli: delete --namespace NS refuses without --yes, saying what it would delete; with --yes removes it all", async () => {
  const dir = tempDir();
  try {
    await ok(dir, ["save", "--values", '{"a": 1, "b": 2}']);
    await ok(dir, ["checkpoint", "--name", "cp"]);
    await fails(
      dir,
      ["delete"],
      2,
      /^error: This would delete namespace "wf": 2 keys and 1 checkpoint\. Add --yes to delete it$/,
    );
    assert.equal(await ok(dir, ["keys"]), "a\nb");
    await fails(dir, ["delete", "--key", "a", "--yes"], 2, /--yes deletes a whole namespace/);
    assert.deepEqual(JSON.parse(await ok(dir, ["delete", "--yes", "--json"])), {
      namespace: "wf",
      deleted: true,
      keys: 2,
      checkpoints: 1,
    });
    assert.equal(await ok(dir, ["keys"]), "");
    assert.equal((await cli(dir, ["checkpoints"])).err, "no checkpoints");
    assert.equal(await ok(dir, ["namespaces"]), "");
    // A refusal (here, and diff with no head) writes nothing, not even the empty store that
    // opening would create.
    for (const backend of ["sqlite", "kv", "json"]) {
      const empty = join(dir, `empty-${backend}`);
      await fails(empty, ["delete", "--backend", backend], 2, /0 keys and 0 checkpoints/);
      await fails(empty, ["diff", "--backend", backend], 2, /no head to diff from/);
      assert.equal(existsSync(empty), false, backend);
    }
    // The namespace must be named on the line: never one from init or the environment.
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      out: (t: string) => out.push(t),
      err: (t: string) => err.push(t),
      stdin: () => Promise.resolve(""),
      stderrIsTty: false,
    };
    assert.equal(await run(["delete", "--yes", "--dir", dir], io), 2);
    assert.match(err.join(""), /Give --key, --checkpoint, or --namespace NS --yes/);
  } finally {
    removeDir(dir);
  }
});

test("cli: --help shows each setting in effect and where it comes from", async () => {
  const dir = tempDir();
  const saved = { ...process.env };
  try {
    await ok(dir, ["init", "--backend", "sqlite"]);
    process.env.MANAGING_STATE_URL = "redis://user:hunter22@h:1";
    const help = async (args: string[]) => {
      const out: string[] = [];
      const io = {
        out: (t: string) => out.push(t),
        err: () => {},
        stdin: () => Promise.resolve(""),
        stderrIsTty: false,
      };
      assert.equal(await run(args, io), 0);
      return out.join("\n");
    };
    const text = await help(["load", "--help", "--dir", dir]);
    assert.match(
      text,
      /--backend <value> .*\[now: sqlite, from init \(.*\.managing-state\.json\)\]/,
    );
    assert.match(text, /--namespace <value> .*\[now: wf, from init/);
    assert.match(
      text,
      new RegExp(`--dir <value> .*\\[now: ${dir.replaceAll("/", "\\/")}, from --dir\\]`),
    );
    assert.match(
      text,
      /--url <value> .*\[now: redis:\/\/user:\*\*\*@h:1, from MANAGING_STATE_URL\]/,
    );
    assert.ok(!text.includes("hunter22"));
    assert.match(text, /--path <value> .*\[now: not set\]/);
    const main = await help(["--help"]);
    assert.match(main, /--backend <value> .*\[now: json, from default\]/);
    assert.match(main, /^ {2}incr\s+Add to a number atomically/m);
    // A damaged config does not break help.
    writeFileSync(join(dir, ".managing-state.json"), "{");
    assert.match(await help(["keys", "--help", "--dir", dir]), /Usage: managing-state keys/);
  } finally {
    // Deleted, not only replaced: on Deno the environment is the process's, shared by test files.
    delete process.env.MANAGING_STATE_URL;
    process.env = saved;
    removeDir(dir);
  }
});
