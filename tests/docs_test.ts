// Every example in README.md, SKILL.md and references/*.md runs here (see
// tests/_docs.ts for the conventions), so the docs cannot drift from the code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { after, test } from "node:test";
import {
  type Block,
  docFiles,
  extractBlocks,
  type Failure,
  parseShell,
  ROOT,
  runShellBlocks,
  runTsBlocks,
} from "./_docs.ts";
import { isDeno, removeDir, tempDir } from "./_runtime.ts";
import { redisTarget, skipUnavailable } from "./_redis_server.ts";

// The examples that move state to Redis read REDIS_URL: a server of the test's own.
const redis = isDeno ? await redisTarget() : "runs under Deno only";
after(() => typeof redis === "object" ? redis.server?.stop() : undefined);

const skip = !isDeno && "runs examples with the deno binary";

function report(failures: Failure[]): string {
  return failures.map((f) => `${f.where}: ${f.message}`).join("\n\n");
}

const docs = isDeno ? docFiles() : [];
const blocks: Block[] = docs.flatMap((f) => extractBlocks(f, readFileSync(join(ROOT, f), "utf8")));

test("docs: SKILL.md and the references exist and are found", { skip }, () => {
  for (const f of ["README.md", "SKILL.md", "references/backends.md", "references/api.md"]) {
    assert.ok(docs.includes(f), `${f} is not found`);
  }
  assert.ok(blocks.some((b) => b.lang === "ts"));
  assert.ok(blocks.some((b) => b.lang === "sh"));
});

test("docs: SKILL.md has the skill's front matter, stays under 400 lines, links its references", {
  skip,
}, () => {
  const text = readFileSync(join(ROOT, "SKILL.md"), "utf8");
  const front = /^---\n([\s\S]*?)\n---\n/.exec(text);
  assert.ok(front, "SKILL.md starts with --- front matter ---");
  assert.match(front[1]!, /^name: managing-state$/m);
  const description = /^description: (.+)$/m.exec(front[1]!)?.[1] ?? "";
  assert.ok(description.length > 50 && description.length <= 1024, description);
  assert.match(description, /Use when/);
  assert.ok(text.split("\n").length < 400);
  for (const section of ["When to use", "Quick start", "Backend selection", "Checkpoints"]) {
    assert.match(text, new RegExp(`^## ${section}`, "m"));
  }
  assert.match(text, /^## Error recovery$/m);
  assert.ok(text.includes("(references/backends.md)"));
  assert.ok(text.includes("(references/migration.md)"));
  assert.ok(text.includes("(references/cli.md)"));
  // CLI first: the shell workflow comes before the TypeScript API.
  assert.ok(text.indexOf("```sh") < text.indexOf("```ts"), "a shell example comes first");
});

test("docs: references/api.md covers every StateManager method, open() option and error", {
  skip,
}, async () => {
  const { StateManager } = await import("../mod.ts");
  const errors = await import("../errors.ts");
  const api = readFileSync(join(ROOT, "references", "api.md"), "utf8");
  const examples = blocks.filter((b) => b.file === "references/api.md" && b.lang === "ts")
    .map((b) => b.code).join("\n");
  const methods = Object.getOwnPropertyNames(StateManager.prototype)
    .filter((m) => m !== "constructor");
  assert.ok(methods.length > 35, methods.join(" "));
  // Each method (and the static open and recover) is called in a tested example.
  const missing = [...methods, "open", "recover"].filter((m) =>
    !new RegExp(`\\.${m}(<[^(]*>)?\\(`).test(examples)
  );
  assert.deepEqual(missing, [], "methods without a tested example");
  // Every option of open(): the shared settings and each backend's.
  const source = ["options.ts", "backends/_locations.ts"].map((f) =>
    readFileSync(join(ROOT, f), "utf8")
  );
  const shared = /interface ManagerOptions \{([\s\S]*?)\n\}/.exec(source[0]!)![1]!;
  const options = [shared, source[1]!].flatMap((t) =>
    [...t.matchAll(/^ {2}(\w+)\?:/gm)].map((m) => m[1]!)
  );
  assert.ok(options.length > 15, options.join(" "));
  assert.deepEqual(options.filter((o) => !api.includes(`\`${o}\``)), [], "options not described");
  assert.match(api, /is a `StateError` with a stable `code`/); // the base class
  const classes = [...Object.keys(errors), "VerificationError"]
    .filter((n) => n.endsWith("Error") && n !== "StateError");
  assert.deepEqual(
    classes.filter((c) => !api.includes(`| \`${c}\` (`)),
    [],
    "errors not in the table",
  );
});

test("docs: every TypeScript example type-checks and runs", { skip }, async () => {
  const work = tempDir("ms-docs-");
  try {
    const failures = await runTsBlocks(blocks.filter((b) => b.lang === "ts"), work);
    assert.equal(failures.length, 0, report(failures));
  } finally {
    removeDir(work);
  }
});

for (const file of docs) {
  const sh = blocks.filter((b) => b.lang === "sh" && b.file === file);
  if (sh.length === 0) continue;
  test(`docs: every shell example in ${file} runs as written`, { skip }, async (t) => {
    const needsRedis = sh.some((b) => b.code.includes("$REDIS_URL"));
    if (needsRedis && typeof redis === "string") return skipUnavailable(t, file, redis);
    const env: Record<string, string> = typeof redis === "object" ? { REDIS_URL: redis.url } : {};
    const work = tempDir("ms-docs-");
    try {
      const failures = await runShellBlocks(sh, work, env);
      assert.equal(failures.length, 0, report(failures));
    } finally {
      removeDir(work);
    }
  });
}

// The checks above can fail: a broken example of each kind is reported, with its place.
test("docs: a broken example fails the docs test, naming the file and line", { skip }, async () => {
  const md = [
    "# Demo",
    "```ts",
    'import { StateManager } from "@adw/managing-state";',
    'await using s = await StateManager.open({ backend: "memory" });',
    'await s.save("k", 1);',
    'console.log(await s.load("k")); // => 2',
    "```",
    "```ts",
    "const n: number = 1;",
    "```",
    "```typescript",
    'throw new Error("second failure");',
    "```",
    "```ts ignore",
    "this is not code",
    "```",
    "```sh",
    "deno task cli save --key k --value 1   # => Saved k",
    "deno task cli load --key k",
    "# => 1",
    "deno task cli load --key nope",
    "# exit 3",
    'deno task cli load --key nope   # => "wrong"',
    "deno task cli keys",
    "# => other",
    "# stderr: something else",
    "```",
  ].join("\n");
  const found = extractBlocks("demo.md", md);
  assert.deepEqual(
    found.map((b) => [b.lang, b.line]),
    [["ts", 3], ["ts", 9], ["ts", 12], ["sh", 18]],
  );
  const commands = parseShell(found[3]!);
  assert.deepEqual(
    commands.map((c) => [c.line, c.exit, c.stdout, c.stderr]),
    [
      [18, 0, ["Saved k"], []],
      [19, 0, ["1"], []],
      [21, 3, null, []],
      [23, 0, ['"wrong"'], []],
      [24, 0, ["other"], ["something else"]],
    ],
  );
  const work = tempDir("ms-docs-");
  try {
    const ts = await runTsBlocks(found.filter((b) => b.lang === "ts"), work);
    assert.deepEqual(ts.map((f) => f.where), ["demo.md:3", "demo.md:12"], report(ts));
    assert.match(ts[0]!.message, /=> 2/);
    assert.match(ts[0]!.message, /demo\.md:6/); // the failing line, in the Markdown
    assert.match(ts[1]!.message, /second failure/);
    const typeError = await runTsBlocks(
      [{ file: "demo.md", line: 40, lang: "ts", code: 'const n: number = "one";' }],
      join(work, "t2"),
    );
    assert.match(report(typeError), /demo\.md:40/);
    const sh = await runShellBlocks([found[3]!], work);
    assert.deepEqual(sh.map((f) => f.where), ["demo.md:23", "demo.md:24"]);
    assert.match(sh[0]!.message, /exit 3, expected 0/);
    assert.match(sh[1]!.message, /expected "other"/);
    assert.match(sh[1]!.message, /stderr lacks "something else"/);
  } finally {
    removeDir(work);
  }
});

// MCP client configurations (```json blocks with "mcpServers"): the Deno form is started as
// written (its jsr: CLI mapped to this repository's cli.ts) and answers tools/list; the npx form
// names the SDK and zod at the versions deno.json pins, and runs as the same command here.
const mcpConfigs = docs.flatMap((file) => {
  const text = readFileSync(join(ROOT, file), "utf8");
  return [...text.matchAll(/```json\n([\s\S]*?)\n```/g)]
    .filter((m) => m[1]!.includes('"mcpServers"'))
    .map((m) => ({
      where: `${file}:${text.slice(0, m.index).split("\n").length + 1}`,
      servers: JSON.parse(m[1]!).mcpServers as Record<string, { command: string; args: string[] }>,
    }));
});

test("docs: README and SKILL.md show MCP registration for Deno and for npx", { skip }, () => {
  for (const file of ["README.md", "SKILL.md"]) {
    const commands = mcpConfigs.filter((c) => c.where.startsWith(`${file}:`))
      .flatMap((c) => Object.values(c.servers).map((s) => s.command));
    assert.deepEqual(commands.sort(), ["deno", "npx"], file);
  }
});

for (const { where, servers } of mcpConfigs) {
  test(`docs: the MCP configuration at ${where} starts a server that lists its tools`, {
    skip,
  }, async () => {
    const imports = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")).imports;
    const pin = (name: string) =>
      String(imports[name] ?? imports[`${name}/`]).replace(/^npm:\/?/, "").replace(/\/$/, "");
    const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
    const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
    for (const server of Object.values(servers)) {
      let args = [...server.args];
      if (server.command === "npx") {
        for (const need of [pin("@modelcontextprotocol/sdk"), pin("zod"), "@adw/managing-state"]) {
          assert.ok(args.includes(need), `${where}: npx -p ${need} is missing`);
        }
        // What npx runs once it has the packages: the managing-state command.
        while (args[0]?.startsWith("-")) args = args.slice(args[0] === "-p" ? 2 : 1);
        assert.equal(args[0], "managing-state", where);
        args = ["run", "-A", "--unstable-kv", "jsr:@adw/managing-state/cli", ...args.slice(1)];
      } else assert.equal(server.command, "deno", where);
      const cli = args.indexOf("jsr:@adw/managing-state/cli");
      assert.ok(cli > 0 && args[cli + 1] === "mcp", `${where}: runs the CLI's mcp command`);
      args[cli] = join(ROOT, "cli.ts");
      const dir = tempDir("ms-docs-mcp-");
      const client = new Client({ name: "docs", version: "1.0.0" });
      try {
        await client.connect(
          new StdioClientTransport({ command: process.execPath, args, cwd: dir, stderr: "pipe" }),
        );
        const { tools } = await client.listTools();
        assert.ok(tools.some((t: { name: string }) => t.name === "load"), where);
      } finally {
        await client.close();
        removeDir(dir);
      }
    }
  });
}
