// Installs the packed npm package into an empty Node project and uses it the
// way a Node user would: an .mjs import, a strict `nodenext` TypeScript
// check, and the `managing-state` command through npx.
//
//   deno task smoke:npm     (after deno task build:npm)
import assert from "node:assert/strict";
import { join } from "node:path";
import { envWithNode, findNode, NPM_DIR, output, run } from "./_node.ts";
import { BIN_NAME, DEV_DEPENDENCIES } from "./_npm_package.ts";

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
console.log("mjs ok");
`;

const CHECK_TS = `import { type OpenOptions, StateManager } from "@adw/managing-state";
import { SqliteBackend } from "@adw/managing-state/sqlite";

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
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true,
    module: "nodenext",
    moduleResolution: "nodenext",
    types: ["node"],
    noEmit: true,
    skipLibCheck: false,
  },
  include: ["*.ts"],
};

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
    for (const need of ["package.json", "README.md", "LICENSE", "mod.js", "mod.d.ts", "cli.js"]) {
      assert.ok(paths.includes(need), `the tarball lacks ${need}`);
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
    ], { cwd: project, env });
    await Deno.writeTextFile(join(project, "check.mjs"), CHECK_MJS);
    await Deno.writeTextFile(join(project, "check.ts"), CHECK_TS);
    await Deno.writeTextFile(join(project, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));

    assert.equal((await output(node, ["check.mjs"], { cwd: project, env })).trim(), "mjs ok");
    await run("npx", ["tsc", "--noEmit", "-p", "."], { cwd: project, env });
    const cli = (...args: string[]) => output("npx", [BIN_NAME, ...args], { cwd: project, env });
    assert.equal(await cli("save", "--key", "phase", "--value", "building"), "Saved phase\n");
    assert.equal(await cli("load", "--key", "phase"), '"building"\n');
    // The default JSON backend kept it on disk, in the project folder.
    assert.ok((await Deno.stat(join(project, ".claude/state/default"))).isDirectory);
    console.log(
      `npm smoke: ${filename} (${files.length} files) installs; .mjs import, ` +
        `tsc --noEmit (strict, nodenext) and npx ${BIN_NAME} save/load work`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) await smokeNpm();
