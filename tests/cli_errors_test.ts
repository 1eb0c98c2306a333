// Every error the CLI prints speaks the CLI's language: each error path is
// made to fire, and its one line is checked against the CLI's own tables.
// Every flag it names exists, every command it says to run exists, and no
// library syntax (`{ overwrite: true }`, `recover()`, `ttlMs`) gets through.
// Each usage error written in cli/ must be among the lines fired here, so a
// new one cannot be added without being checked.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { run } from "../cli.ts";
import { COMMANDS } from "../cli/_commands.ts";
import { GLOBAL_OPTIONS } from "../cli/_usage.ts";
import { exitCode } from "../cli/_errors.ts";
import { BackendError } from "../errors.ts";
import { isDeno, removeDir, runCommand, tempDir } from "./_runtime.ts";

const cliPath = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** A deno.json task's permission flags (`deno run <flags> cli.ts`). */
function taskFlags(task: string): string[] {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const tasks = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")).tasks;
  return /^deno run (.*) cli\.ts$/.exec(tasks[task] ?? "")![1]!.split(" ");
}

const FLAGS = new Set([
  ...Object.keys(GLOBAL_OPTIONS),
  ...Object.values(COMMANDS).flatMap((c) => Object.keys(c.options)),
]);

/** Library syntax a shell user cannot type. */
const LIBRARY = [
  /\w\(\)/, // recover(), load()
  /\{\s*\w+:\s/, // { overwrite: true }
  /\b(ttlMs|ifVersion|ifAbsent|maxUpdateAttempts|keepTtl|dryRun|listCheckpoints|getEntry|overwrite: true)\b/,
];

/** Checks one error line; returns the problems found. */
function problems(line: string, command: string): string[] {
  const out: string[] = [];
  if (!line.startsWith("error: ")) out.push("does not start with 'error: '");
  if (line.includes("\n")) out.push("is more than one line");
  for (const pattern of LIBRARY) {
    if (pattern.test(line)) out.push(`uses library syntax ${pattern}`);
  }
  // A flag the user typed is echoed in quotes ('--bogus'); every other one must exist.
  for (const [flag] of line.matchAll(/(?<![\w'-])--[a-z][a-z-]*/g)) {
    // Deno's own permission flags (--allow-run) are named for the runtime, not the CLI.
    if (/^--(allow|unstable)-/.test(flag)) continue;
    if (!FLAGS.has(flag.slice(2))) out.push(`names ${flag}, which is no flag of the CLI`);
  }
  for (const m of line.matchAll(/\b[Rr]un "([^"]+)"/g)) {
    const word = m[1]!.split(" ")[0]!;
    if (!(word in COMMANDS) && !word.startsWith("--")) {
      out.push(`says to run "${word}", no command`);
    }
  }
  const own = COMMANDS[command];
  if (own) {
    // A flag hint in a command's error is one that command (or every command) takes.
    for (const [, flag] of line.matchAll(/\badd (--[a-z-]+)/g)) {
      const name = flag!.slice(2);
      if (!(name in own.options) && !(name in GLOBAL_OPTIONS)) {
        out.push(`tells ${command} to add ${flag}, which it does not take`);
      }
    }
  }
  return out;
}

/**
 * [command line, exit code, what the line says]. `{dir}` is the case's folder;
 * `--dir` and `--namespace wf` are added unless given (`{no-ns}`: no namespace flag).
 */
const CASES: [string[], number, RegExp][] = [
  // The command line itself.
  [["frobnicate"], 2, /Unknown command "frobnicate": run "--help"/],
  [["--json"], 2, /No command given before --json/],
  [["load", "--bogus"], 2, /Unknown option '--bogus'.*"load --help"/],
  [["load", "--key", "a", "extra"], 2, /Unexpected argument/],
  [["incr", "--key", "n", "--by", "-x"], 2, /--by=-VALUE/],
  [["load"], 2, /Missing --key/],
  [["keys", "--limit", "0"], 2, /--limit must be a positive integer/],
  [["save", "--key", "k"], 2, /exactly one of --value or --value-file/],
  [["save", "--key", "k", "--value-file", "{dir}/missing.json"], 2, /Cannot read --value-file/],
  [["save", "--key", "k", "--value-file", "{dir}/bad.json"], 2, /not valid JSON.*add --string/],
  [["save", "--key", "k", "--value", "-"], 2, /--value - read nothing from stdin/],
  [["save", "--values", "-"], 2, /--values - read nothing from stdin/],
  [["save", "--values", "[1]"], 2, /--values must be a JSON object of key to value/],
  [["save", "--values", "{}"], 2, /--values holds no keys/],
  [["save", "--values", "{"], 2, /--values is not valid JSON/],
  [["save", "--values", '{"a":1}', "--key", "a"], 2, /--values takes the keys with it/],
  [["save", "--values", '{"a":1}', "--values-file", "x"], 2, /Give --values or --values-file/],
  [["save", "--values", '{"a":1}', "--if-version", "v"], 2, /--if-version checks one key/],
  [["save", "--key", "k", "--value", "1", "--ttl-ms", "0"], 2, /--ttl-ms must be a positive/],
  [["save", "--key", "k", "--value", "1", "--if-version", "v", "--if-absent"], 2, /not both/],
  [["save", "--key", "k", "--value", "1", "--if-version", ""], 2, /--if-version needs a version/],
  [["save", "--key", "a\u0000b", "--value", "1"], 2, /NUL/],
  [["load", "--key", "a", "--checkpoint", "cp", "--with-version"], 2, /drop --checkpoint/],
  [["delete", "--key", "a", "--checkpoint", "cp"], 2, /Give one of --key, --checkpoint/],
  [["delete", "--checkpoint", "cp", "--if-version", "v"], 2, /--if-version goes with --key/],
  [["delete", "--key", "a", "--yes"], 2, /--yes deletes a whole namespace/],
  [["delete", "--namespace", "wf"], 2, /This would delete namespace "wf".*Add --yes/],
  [["delete", "--yes", "{no-ns}"], 2, /Give --key, --checkpoint, or --namespace NS --yes/],
  [["incr", "--key", "n", "--by", "x"], 2, /--by must be a number/],
  [["diff", "--from", ""], 2, /Missing --from/],
  [["step", "--reset", "x", "--name", "y"], 2, /--reset takes no --name and no command/],
  [["step", "--name", "x"], 2, /Give the command after "--"/],
  [["diff", "--namespace", "fresh"], 2, /no head to diff from: give --from \(run "checkpoints"\)/],
  [["merge", "--key", "m", "--value", "[1]"], 2, /merge takes a JSON object in --value/],
  [["checkpoint", "--metadata", "{"], 2, /--metadata must be a JSON object/],
  [
    ["restore", "--checkpoint", "cp", "--keep-prefix", ""],
    2,
    /--keep-prefix needs a non-empty key prefix/,
  ],
  [["checkpoint", "--metadata", "[1]"], 2, /--metadata must be a plain JSON object/],
  [["migrate", "--from", "json"], 2, /Give both --from and --to/],
  [["migrate", "--from", "json", "--to", "sqlite", "--keep-ttl"], 2, /--keep-ttl applies/],
  [["export"], 2, /Missing --file/],
  [["import"], 2, /Missing --file/],
  [["import", "--file", "{dir}/bad.json"], 2, /Export file .* line 1/],
  [["load", "--key", "a", "--backend", "sqllite"], 2, /Unknown backend "sqllite"/],
  [["load", "--key", "a", "--namespace", "../x"], 2, /Namespace/],
  // Not found.
  [["load", "--key", "nope"], 3, /Key "nope" not found in namespace "wf"\. Run "keys"/],
  [["restore", "--checkpoint", "nope"], 3, /checkpoint "nope".*Run "checkpoints"/],
  [["load", "--key", "nope", "--checkpoint", "cp"], 3, /Run "dump --checkpoint cp"/],
  // Conflicts.
  [["checkpoint", "--name", "cp"], 4, /pick another --name or add --overwrite/],
  [["save", "--key", "a", "--value", "2", "--if-absent"], 4, /Run "load --key a --with-version"/],
  [["claim", "--key", "lease", "--owner", "w2"], 4, /"w1" holds it/],
  [["release", "--key", "lease", "--owner", "w2"], 4, /"w1" holds it/],
  // Stored data the command cannot use.
  [["incr", "--key", "text"], 2, /Cannot increment key "text"/],
  [["append", "--key", "a", "--value", "1"], 2, /Cannot append to key "a"/],
  [["load", "--key", "a", "--namespace", "damaged"], 1, /damaged.*run "recover"/],
  [["migrate", "--from", "json", "--to", "sqlite"], 1, /Run again with --overwrite/],
  [["keys", "--dir", "{dir}/config"], 2, /is not valid JSON: fix it or run "init"/],
];

/** A store with a key, a text, a checkpoint, a lease, a damaged namespace and a differing copy. */
async function prepare(dir: string): Promise<void> {
  const io = { out: () => {}, err: () => {}, stdin: () => Promise.resolve(""), stderrIsTty: false };
  const setup = [
    ["save", "--key", "a", "--value", "1"],
    ["save", "--key", "text", "--value", "hello"],
    ["checkpoint", "--name", "cp"],
    ["claim", "--key", "lease", "--owner", "w1"],
    ["save", "--key", "a", "--value", "other", "--backend", "sqlite"],
    ["save", "--key", "k", "--value", "1", "--namespace", "damaged"],
  ];
  for (const args of setup) {
    assert.equal(
      await run([
        ...args,
        "--dir",
        dir,
        ...(args.includes("--namespace") ? [] : ["--namespace", "wf"]),
      ], io),
      0,
    );
  }
  writeFileSync(join(dir, "damaged", "state.json"), "{ torn");
  writeFileSync(join(dir, "bad.json"), "{ not json");
  const config = join(dir, "config");
  (await import("node:fs")).mkdirSync(config);
  writeFileSync(join(config, ".managing-state.json"), "{");
}

test("cli: every error path prints one line in the CLI's own terms", async () => {
  const dir = tempDir();
  try {
    await prepare(dir);
    const lines: string[] = [];
    const failures: string[] = [];
    for (const [template, code, message] of CASES) {
      const args = template.map((a) => a.replaceAll("{dir}", dir)).filter((a) => a !== "{no-ns}");
      const err: string[] = [];
      const hasDir = args.includes("--dir");
      const hasNs = template.includes("--namespace") || template.includes("{no-ns}");
      const got = await run([
        ...args,
        ...(hasDir ? [] : ["--dir", dir]),
        ...(hasNs ? [] : ["--namespace", "wf"]),
      ], {
        out: () => {},
        err: (t) => err.push(t),
        stdin: () => Promise.resolve(""),
        stderrIsTty: false,
      });
      const line = err.join("\n");
      lines.push(line);
      const where = `${template.join(" ")} -> ${line}`;
      if (got !== code) failures.push(`${where}: exit ${got}, expected ${code}`);
      if (!message.test(line)) failures.push(`${where}: does not match ${message}`);
      for (const p of problems(line, template[0]!)) failures.push(`${where}: ${p}`);
    }
    if (isDeno) {
      // Only without --allow-run: the `cli` task's permissions, in a real process.
      const r = await runCommand(process.execPath, [
        "run",
        ...taskFlags("cli"),
        cliPath,
        "step",
        "--name",
        "x",
        "--",
        "true",
      ], { cwd: dir });
      const line = r.stderr.trim();
      lines.push(line);
      if (r.code !== 2) failures.push(`step without --allow-run: exit ${r.code}: ${line}`);
      for (const p of problems(line, "step")) failures.push(`step without --allow-run: ${p}`);
    }
    assert.deepEqual(failures, []);
    // Each usage error written in cli/ fired above (on Node, every process may be checked,
    // so the --allow-run refusal cannot fire there).
    const missing = usageErrorTexts()
      .filter((text) => isDeno || !text.includes("--allow-run"))
      .filter((text) => !lines.some((l) => l.includes(text)));
    assert.deepEqual(missing, [], "usage errors in cli/ that no case fires");
  } finally {
    removeDir(dir);
  }
});

test("cli: the hint checker itself catches library syntax and unknown flags", () => {
  assert.deepEqual(problems('error: Key "x" exists: run "keys"', "load"), []);
  assert.ok(problems("error: pass { overwrite: true }", "checkpoint").length > 0);
  assert.ok(problems("error: run recover()", "load").length > 0);
  assert.ok(problems("error: set ttlMs", "save").length > 0);
  assert.ok(problems("error: add --frobnicate", "save").length > 0);
  assert.ok(problems("error: add --overwrite", "save").length > 0, "save takes no --overwrite");
  assert.ok(problems('error: Run "status"', "load").length > 0 || "status" in COMMANDS);
});

/** The fixed text at the start of each `new UsageError(...)` / `new NotFoundError(...)` in cli/. */
function usageErrorTexts(): string[] {
  const root = fileURLToPath(new URL("../cli/", import.meta.url));
  const files = existsSync(root) ? readdirSync(root).filter((f) => /\.(ts|js)$/.test(f)) : [];
  const texts: string[] = [];
  for (const f of files) {
    const source = readFileSync(join(root, f), "utf8");
    for (
      const m of source.matchAll(
        /new (?:UsageError|NotFoundError)\(\s*([`"'])((?:(?!\$\{)(?!\1)[^\n])*)/g,
      )
    ) {
      if (m[2]!.length >= 8) texts.push(m[2]!);
    }
  }
  assert.ok(texts.length > 20, `found the usage errors in ${root}`);
  return texts;
}

test("cli: a write that may have landed exits 5, a plain storage failure 1", () => {
  const lost = new BackendError("connection lost (the command may have run)", {
    transient: true,
    outcomeUnknown: true,
  });
  assert.equal(exitCode(lost), 5);
  assert.equal(exitCode(new BackendError("connection refused", { transient: true })), 1);
  assert.equal(exitCode(new BackendError("disk full")), 1);
});
