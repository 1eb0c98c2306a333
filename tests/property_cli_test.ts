// CLI argument vectors, property-based: random command lines built from the
// CLI's own command and option tables (so new commands are covered as they
// come), mixed with unknown words, odd values and broken flags. Whatever the
// line, the CLI answers with an exit code of its contract; a failure is one
// line on stderr, never a stack trace; a usage error (exit 2) writes nothing.
// Local backends only, and every path inside a fresh folder per case.
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { run } from "../cli.ts";
import { COMMANDS } from "../cli/_commands.ts";
import { GLOBAL_OPTIONS } from "../cli/_usage.ts";
import { checkProperty, fc } from "./_property.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** Options whose values are paths: kept inside the case's folder. */
const PATHS = new Set(["path", "file", "value-file", "from-dir", "to-dir", "from-path", "to-path"]);
/** Options left out: --dir is set by the test, --debug prints stacks on purpose, --url could reach a network. */
const LEFT_OUT = new Set(["dir", "debug", "url", "from-url", "to-url"]);
/** Backend names that stay on this machine, and some that do not exist. */
const BACKENDS = ["memory", "json", "sqlite", "legacy-json", "legacy-sqlite", "nosuch", ""];

const oddText = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.constantFrom("", "-", "--", "0", "-1", "1e400", "null", "{", '{"a":', "[]", '"x"', "../x"),
  fc.json({ maxDepth: 2 }),
  fc.string({ unit: "binary", maxLength: 6 }),
).filter((s) => !/redis|^kv$/i.test(s)); // never a network backend

/** A value for `--name`, as a token. */
function valueFor(name: string): fc.Arbitrary<string> {
  if (PATHS.has(name)) {
    // "-" is stdin or stdout for the file options only; anything else stays in the case's folder.
    const stdio = name === "file" || name === "value-file" ? ["-"] : [];
    return fc.constantFrom("state.db", "x", "sub/y.jsonl", "missing/z", "", ...stdio).map((p) =>
      p === "-" ? p : `{dir}/${p}`
    );
  }
  if (name === "backend" || name === "from" || name === "to") return fc.constantFrom(...BACKENDS);
  if (name === "namespace") {
    return fc.oneof(fc.constantFrom("wf", "default", "a.b", ".x", "../x", ""), oddText);
  }
  return oddText;
}

/** One option of the command (or a global one) with a value that parses; values may still be wrong. */
function option(command: string): fc.Arbitrary<readonly string[]> {
  const options = { ...GLOBAL_OPTIONS, ...COMMANDS[command]?.options };
  const names = Object.keys(options).filter((n) => !LEFT_OUT.has(n) && n !== "help");
  return fc.constantFrom(...names).chain((name): fc.Arbitrary<readonly string[]> =>
    options[name]!.type === "boolean"
      ? fc.constant([`--${name}`])
      : valueFor(name).map((v) => [`--${name}=${v}`])
  );
}

/** One argument of a messy line: an option, a broken option, an unknown one, or a stray word. */
function argument(command: string): fc.Arbitrary<readonly string[]> {
  const options = { ...GLOBAL_OPTIONS, ...COMMANDS[command]?.options };
  const names = Object.keys(options).filter((n) => !LEFT_OUT.has(n));
  const broken = fc.constantFrom(...names).chain((name) =>
    fc.oneof(
      valueFor(name).map((v) => [`--${name}`, v]), // a value that may look like an option
      // A value missing (the next word becomes it: never for a path, which could land anywhere).
      ...PATHS.has(name) ? [] : [fc.constant([`--${name}`])],
      fc.constant([`--no-${name}`]),
      ...options[name]!.type === "boolean" ? [oddText.map((v) => [`--${name}=${v}`])] : [],
    )
  );
  return fc.oneof(
    { weight: 4, arbitrary: option(command) },
    { weight: 2, arbitrary: broken },
    { weight: 1, arbitrary: fc.constantFrom(["--bogus"], ["-x"], ["--"], ["-"], ["--=x"]) },
    { weight: 1, arbitrary: oddText.map((w) => [w]) },
  );
}

const commandName = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...Object.keys(COMMANDS)) },
  { weight: 1, arbitrary: fc.constantFrom("frobnicate", "", "SAVE", "help", "--help", "-h") },
);

/** Half the lines parse (their values may still be wrong); half are messy. */
const commandLine = fc.oneof(
  commandName.chain((command) =>
    fc.array(option(command), { maxLength: 6 }).map((args) => [command, ...args.flat()])
  ),
  commandName.chain((command) =>
    fc.array(argument(command), { maxLength: 6 }).map((args) => [command, ...args.flat()])
  ),
);

/** Every file and folder under `dir`, with size and change time. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const s = statSync(p);
      out.push(`${p} ${s.size} ${s.mtimeMs}`);
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.join("\n");
}

test("property: any command line gets an exit code of the contract, one error line, no stack trace; usage errors write nothing", async () => {
  const root = tempDir("ms-cli-prop-");
  let n = 0;
  try {
    await checkProperty("CLI argument vectors", commandLine, async (line) => {
      const dir = join(root, String(n++));
      // A command that runs a program (`step -- cmd`) gets none: its line stops at "--".
      const cut = COMMANDS[line[0]!]?.passthrough ? line.indexOf("--") : -1;
      const words = cut === -1 ? line : line.slice(0, cut);
      const args = [...words.map((a) => a.replaceAll("{dir}", dir)), "--dir", dir];
      const err: string[] = [];
      const before = snapshot(root);
      try {
        const code = await run(args, {
          out: () => {},
          err: (t) => void err.push(t),
          stdin: () => Promise.resolve(""),
          stderrIsTty: false,
        });
        const stderr = err.join("\n");
        assert.ok([0, 1, 2, 3, 4].includes(code), `exit ${code}`);
        assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
        if (code !== 0) {
          assert.equal(err.length, 1, `one line: ${stderr}`);
          assert.match(stderr, /^error: [^\n]+$/);
        }
        if (code === 2) assert.equal(snapshot(root), before, "a usage error writes nothing");
        return `exit ${code}`;
      } finally {
        removeDir(dir);
      }
    });
  } finally {
    removeDir(root);
  }
});
