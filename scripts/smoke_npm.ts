// Installs the packed npm package into empty Node projects and uses it the
// way a Node user would: an .mjs import (the Keyv store and the LangGraph
// saver with their peers included), strict `nodenext` TypeScript checks
// with `skipLibCheck: false` (with @types/node, and in a project with
// nothing but TypeScript and the minimal tsconfig), the type-level tests of
// tests/types_check.ts against the package's declarations, and the
// `managing-state` command through npx.
//
//   deno task smoke:npm     (after deno task build:npm)
import assert from "node:assert/strict";
import { join } from "node:path";
import { envWithNode, findNode, NPM_DIR, output, ROOT, run } from "./_node.ts";
import { BIN_NAME, DEV_DEPENDENCIES } from "./_npm_package.ts";
import { relativeLinks } from "./_docs_package.ts";

const CHECK_MJS = `import assert from "node:assert/strict";
import { KeyNotFoundError, StateManager } from "@adw/managing-state";
import { SqliteBackend } from "@adw/managing-state/sqlite";
import { JsonBackend } from "@adw/managing-state/json";
import { MemoryBackend } from "@adw/managing-state/memory";
import { run } from "@adw/managing-state/cli";

assert.equal(typeof run, "function");
assert.equal(typeof JsonBackend, "function");
assert.equal(typeof MemoryBackend, "function");
for (const backend of ["memory", new SqliteBackend({ path: ":memory:" })]) {
  await using state = await StateManager.open({ backend, namespace: "smoke" });
  await state.save("phase", "building");
  assert.equal(await state.load("phase"), "building");
  await state.checkpoint("cp");
  await state.save("phase", "testing");
  await state.restoreCheckpoint("cp");
  assert.equal(await state.load("phase"), "building");
  await assert.rejects(state.load("missing"), KeyNotFoundError);
}

// The adapters, with their optional peers installed.
const { default: Keyv } = await import("keyv");
const { KeyvManagingState } = await import("@adw/managing-state/keyv");
const keyv = new Keyv({ store: new KeyvManagingState({ backend: "memory" }) });
await keyv.set("k", { v: 1 }, 60_000);
assert.deepEqual(await keyv.get("k"), { v: 1 });
await keyv.disconnect();
const { emptyCheckpoint } = await import("@langchain/langgraph-checkpoint");
const { ManagingStateSaver } = await import("@adw/managing-state/langgraph");
const saver = new ManagingStateSaver({ backend: "memory" });
const config = { configurable: { thread_id: "t" } };
await saver.put(config, emptyCheckpoint(), { source: "input", step: -1, parents: {} }, {});
assert.equal((await saver.getTuple(config))?.metadata?.step, -1);
await saver.close();
console.log("mjs ok");
`;

const CHECK_TS = `import { type OpenOptions, StateManager } from "@adw/managing-state";
import { SqliteBackend } from "@adw/managing-state/sqlite";
import Keyv from "keyv";
import { KeyvManagingState } from "@adw/managing-state/keyv";
import { ManagingStateSaver } from "@adw/managing-state/langgraph";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";

const options: OpenOptions = { backend: "memory", namespace: "typed" };
await using state = await StateManager.open(options);
await state.save("phase", "building");
const runs: number = await state.update<number>("runs", (n = 0) => n + 1);
const phase: string = await state.load<string>("phase");
const sqlite = new SqliteBackend({ path: ":memory:" });
// The types are real, not \`any\`: a wrong option is an error.
// @ts-expect-error namespace is a string
await StateManager.open({ backend: sqlite, namespace: 42 });
console.log(runs, phase);

// The adapters fit the interfaces their libraries take.
const keyv: Keyv<number> = new Keyv<number>({ store: new KeyvManagingState({ backend: "memory" }) });
const saver: BaseCheckpointSaver = new ManagingStateSaver({ backend: "memory", retention: { keepLast: 5 } });
console.log(keyv, saver);
`;

// With nothing but TypeScript installed: the declarations must not lean on @types/node.
const CHECK_MINIMAL_TS = `import { type OpenOptions, StateManager } from "@adw/managing-state";
import { SqliteBackend } from "@adw/managing-state/sqlite";
import { JsonBackend } from "@adw/managing-state/json";
import { MemoryBackend } from "@adw/managing-state/memory";
import { RedisBackend } from "@adw/managing-state/redis";
import { KvBackend } from "@adw/managing-state/kv";
import { PostgresBackend } from "@adw/managing-state/postgres";
import { migrate } from "@adw/managing-state/migrate";

const options: OpenOptions = { backend: new MemoryBackend(), namespace: "typed" };
await using state = await StateManager.open(options);
const phase: string = await state.load<string>("phase", "none");
export { JsonBackend, KvBackend, migrate, phase, PostgresBackend, RedisBackend, SqliteBackend };
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: "nodenext",
    moduleResolution: "nodenext",
    target: "es2022",
    types: ["node"],
    noEmit: true,
    skipLibCheck: false,
  },
  include: ["*.ts"],
};

/** What a Node user's tsconfig may be at its smallest (the one a user reported). */
const MINIMAL_TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: "nodenext",
    target: "es2022",
    noEmit: true,
    skipLibCheck: false,
  },
  include: ["*.ts"],
};

/** tests/types_check.ts as a user of the package writes it: imports from the package. */
function typesCheck(): string {
  const text = Deno.readTextFileSync(join(ROOT, "tests", "types_check.ts"));
  assert.ok(text.includes('from "../mod.ts"'), "tests/types_check.ts imports ../mod.ts");
  assert.ok(!/from "\.\.?\/(?!mod\.ts")/.test(text), "it imports nothing else of ours");
  return text.replaceAll('from "../mod.ts"', 'from "@adw/managing-state"');
}

/** The adapters' peers, at the versions the Node suites pin. */
function peers(): string[] {
  const harness = JSON.parse(
    Deno.readTextFileSync(join(ROOT, "tests", "node_suites", "package.json")),
  ) as { devDependencies: Record<string, string> };
  return ["keyv", "@langchain/langgraph-checkpoint", "@langchain/core"]
    .map((name) => `${name}@${harness.devDependencies[name]}`);
}

/** The MCP server's optional peers, at the versions deno.json pins. */
function mcpPeers(): string[] {
  const imports = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))).imports as Record<
    string,
    string
  >;
  return [imports["@modelcontextprotocol/sdk/"]!, imports["zod"]!]
    .map((spec) => spec.replace(/^npm:\/?/, "").replace(/\/$/, ""));
}

// `managing-state mcp` started as an MCP client would, through npx, and called once.
const CHECK_MCP = `import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const transport = new StdioClientTransport({
  command: "npx",
  args: ["managing-state", "mcp", "--backend", "sqlite", "--namespace", "smoke"],
  env: process.env,
});
const client = new Client({ name: "smoke", version: "1.0.0" });
await client.connect(transport);
await client.callTool({ name: "save", arguments: { key: "phase", value: "mcp" } });
const r = await client.callTool({ name: "load", arguments: { key: "phase" } });
assert.equal(r.structuredContent.value, "mcp");
await client.close();
console.log("mcp ok");
`;

/** Packs npm/, installs the tarball into a fresh project and exercises it. */
export async function smokeNpm(): Promise<void> {
  const node = await findNode();
  const env = envWithNode(node);
  const tmp = await Deno.makeTempDir({ prefix: "ms-npm-smoke-" });
  try {
    const packed = JSON.parse(
      await output("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: NPM_DIR, env }),
    ) as { filename: string; files: { path: string }[] }[];
    const { filename, files } = packed[0]!;
    const paths = files.map((f) => f.path);
    for (
      const need of [
        "package.json",
        "README.md",
        "LICENSE",
        "SKILL.md",
        "references/api.md",
        "mod.js",
        "mod.d.ts",
        "cli.js",
      ]
    ) {
      assert.ok(paths.includes(need), `the tarball lacks ${need}`);
    }
    // Every relative link of the packed documents names a packed file.
    for (const doc of paths.filter((p) => p.endsWith(".md"))) {
      for (const target of relativeLinks(doc, await Deno.readTextFile(join(NPM_DIR, doc)))) {
        assert.ok(paths.includes(target), `${doc} links ${target}, which the tarball lacks`);
      }
    }
    const stray = paths.filter((p) =>
      /^(tests|src|node_modules)\//.test(p) || p.endsWith(".ts") &&
        !p.endsWith(".d.ts")
    );
    assert.deepEqual(stray, [], "the tarball holds files it should not");

    const project = join(tmp, "project");
    await Deno.mkdir(project);
    await Deno.writeTextFile(
      join(project, "package.json"),
      JSON.stringify({ name: "smoke", private: true, type: "module" }),
    );
    const tools = ["typescript", "@types/node"].map((n) => `${n}@${DEV_DEPENDENCIES[n]}`);
    await run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      join(tmp, filename),
      ...tools,
      ...peers(),
      ...mcpPeers(),
    ], { cwd: project, env });
    await Deno.writeTextFile(join(project, "check.mjs"), CHECK_MJS);
    await Deno.writeTextFile(join(project, "check.ts"), CHECK_TS);
    await Deno.writeTextFile(join(project, "types_check.ts"), typesCheck());
    await Deno.writeTextFile(join(project, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));

    assert.equal((await output(node, ["check.mjs"], { cwd: project, env })).trim(), "mjs ok");
    await run("npx", ["tsc", "--noEmit", "-p", "."], { cwd: project, env });

    const minimal = join(tmp, "minimal");
    await Deno.mkdir(minimal);
    await Deno.writeTextFile(
      join(minimal, "package.json"),
      JSON.stringify({ name: "smoke-minimal", private: true, type: "module" }),
    );
    await run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      join(tmp, filename),
      `typescript@${DEV_DEPENDENCIES.typescript}`,
    ], { cwd: minimal, env });
    await Deno.writeTextFile(join(minimal, "check.ts"), CHECK_MINIMAL_TS);
    await Deno.writeTextFile(
      join(minimal, "tsconfig.json"),
      JSON.stringify(MINIMAL_TSCONFIG, null, 2),
    );
    await run("npx", ["tsc", "-p", "."], { cwd: minimal, env });
    const cli = (...args: string[]) => output("npx", [BIN_NAME, ...args], { cwd: project, env });
    assert.equal(await cli("save", "--key", "phase", "--value", "building"), "Saved phase\n");
    assert.equal(await cli("load", "--key", "phase"), '"building"\n');
    // The default JSON backend kept it on disk, in the project folder.
    assert.ok((await Deno.stat(join(project, ".claude/state/default"))).isDirectory);
    // The MCP server through npx, with its optional peers installed; without them, a clear error.
    await Deno.writeTextFile(join(project, "mcp.mjs"), CHECK_MCP);
    assert.equal((await output(node, ["mcp.mjs"], { cwd: project, env })).trim(), "mcp ok");
    const bare = await new Deno.Command("npx", {
      args: [BIN_NAME, "mcp"],
      cwd: minimal,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(bare.stderr);
    assert.equal(bare.code, 1, stderr);
    assert.match(
      stderr,
      /^error: The MCP server needs @modelcontextprotocol\/sdk@[^ ]+ zod@/,
      stderr,
    );
    console.log(
      `npm smoke: ${filename} (${files.length} files) installs; .mjs import, ` +
        `tsc (strict, nodenext, skipLibCheck false: with @types/node, the adapters' peers and ` +
        `tests/types_check.ts, and ` +
        `with TypeScript alone) and npx ${BIN_NAME} save/load/mcp work`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await smokeNpm();
