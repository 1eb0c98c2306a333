// Tests for the npm build's pure parts: specifier rewriting, dependency
// sorting, package.json generation and the runtime seam check.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "./_node.ts";
import { isCovered, relativeLinks, SHIPPED_DOCS } from "./_docs_package.ts";
import {
  checkRuntimeSeam,
  dependencyFields,
  type NpmDependency,
  packageJson,
  parseNpmSpecifier,
  rewriteSpecifiers,
  selfContainedDeclarations,
  type SourceFile,
  staticClosure,
} from "./_npm_package.ts";

test("parseNpmSpecifier() splits name, range and subpath", () => {
  assert.deepEqual(parseNpmSpecifier("npm:ioredis@^6.0.0"), {
    name: "ioredis",
    range: "^6.0.0",
    subpath: "",
  });
  assert.deepEqual(parseNpmSpecifier("npm:@deno/kv@0.14/sub/x.js"), {
    name: "@deno/kv",
    range: "0.14",
    subpath: "/sub/x.js",
  });
  assert.deepEqual(parseNpmSpecifier("npm:left-pad"), {
    name: "left-pad",
    range: "*",
    subpath: "",
  });
  assert.equal(parseNpmSpecifier("jsr:@std/assert@1"), undefined);
  assert.equal(parseNpmSpecifier("./mod.ts"), undefined);
});

test("rewriteSpecifiers() makes npm: and mapped specifiers bare and records them", () => {
  const found = new Map<string, NpmDependency>();
  const text = [
    'import Redis from "npm:ioredis@^6.0.0";',
    'import { x } from "redis-alias/sub";',
    'const m = await import("kvmod");',
    'import { y } from "./y.ts";',
    'import process from "node:process";',
  ].join("\n");
  const out = rewriteSpecifiers({ path: "a.ts", text }, {
    "redis-alias/": "npm:ioredis@^6.0.0/",
    "kvmod": "npm:@deno/kv@^0.14.0",
  }, found);
  assert.equal(
    out,
    [
      'import Redis from "ioredis";',
      'import { x } from "ioredis/sub";',
      'const m = await import("@deno/kv");',
      'import { y } from "./y.ts";',
      'import process from "node:process";',
    ].join("\n"),
  );
  assert.deepEqual([...found.keys()].sort(), ["@deno/kv", "ioredis"]);
});

test("rewriteSpecifiers() refuses specifiers Node cannot load", () => {
  assert.throws(
    () => rewriteSpecifiers({ path: "b.ts", text: 'import "jsr:@std/fs@1";' }, {}, new Map()),
    /b\.ts imports "jsr:@std\/fs@1", which Node cannot load/,
  );
});

const LIB: SourceFile[] = [
  { path: "mod.ts", text: 'export { a } from "./a.ts";\nimport type { T } from "./typed.ts";' },
  { path: "a.ts", text: 'import core from "core-dep";\nconst b = () => import("./b.ts");' },
  { path: "b.ts", text: 'import Redis from "ioredis";' },
  { path: "typed.ts", text: 'import type { K } from "typed-dep";' },
  { path: "seam_platform.ts", text: 'const specifier = "@deno/kv";' },
];

test("staticClosure() follows static imports only", () => {
  assert.deepEqual([...staticClosure(LIB, ["mod.ts"])].sort(), ["a.ts", "mod.ts"]);
});

test("dependencyFields() sorts core deps, optional peers and dev-only deps", () => {
  const deps = ["core-dep", "ioredis", "@deno/kv", "test-only"].map((name) => ({
    name,
    range: "^1.0.0",
  }));
  const fields = dependencyFields(deps, LIB, staticClosure(LIB, ["mod.ts"]));
  assert.deepEqual(fields.dependencies, { "core-dep": "^1.0.0" });
  assert.deepEqual(fields.peerDependencies, { "@deno/kv": "^1.0.0", "ioredis": "^1.0.0" });
  assert.deepEqual(fields.peerDependenciesMeta, {
    "@deno/kv": { optional: true },
    "ioredis": { optional: true },
  });
  for (const dep of deps) assert.equal(fields.devDependencies[dep.name], "^1.0.0");
  assert.ok(fields.devDependencies["typescript"]);
});

test("packageJson() maps every deno.json export to its .js and .d.ts", () => {
  const pkg = packageJson(
    {
      name: "@adw/x",
      version: "1.2.3",
      license: "MIT",
      exports: { ".": "./mod.ts", "./redis": "./backends/redis.ts" },
    },
    "Desc.",
    { dependencies: {}, peerDependencies: {}, peerDependenciesMeta: {}, devDependencies: {} },
    ["*.js"],
  );
  assert.deepEqual(pkg.exports, {
    ".": { types: "./mod.d.ts", default: "./mod.js" },
    "./redis": { types: "./backends/redis.d.ts", default: "./backends/redis.js" },
  });
  assert.equal(pkg.main, "./mod.js");
  assert.equal(pkg.types, "./mod.d.ts");
  assert.deepEqual(pkg.bin, { "managing-state": "./bin/managing-state.js" });
  assert.deepEqual(pkg.engines, { node: ">=22.13" });
  assert.equal("dependencies" in pkg, false);
});

test("checkRuntimeSeam() allows Deno only in *_platform.ts files", () => {
  const seam = { path: "backends/_kv_platform.ts", text: "const d = globalThis.Deno;" };
  const comment = { path: "json.ts", text: " * const dir = await Deno.makeTempDir();" };
  checkRuntimeSeam([seam, comment]);
  for (const text of ["if (Deno.build) {}", 'if ("Deno" in globalThis) {}', "globalThis.Deno"]) {
    assert.throws(
      () => checkRuntimeSeam([seam, { path: "state.ts", text }]),
      /outside the platform seam in state\.ts/,
    );
  }
});

test("selfContainedDeclarations() references the lib of disposables where they are named", () => {
  const dts = "export declare class S implements AsyncDisposable {\n" +
    "  [Symbol.asyncDispose](): Promise<void>;\n}\n";
  const out = selfContainedDeclarations(dts);
  assert.equal(out, `/// <reference lib="esnext.disposable" />\n${dts}`);
  assert.equal(selfContainedDeclarations(out), out);
  assert.equal(
    selfContainedDeclarations("export declare const x: number;\n"),
    "export declare const x: number;\n",
  );
});

test("relativeLinks() gives package paths of relative links, without anchors or URLs", () => {
  const md = "[a](references/cli.md) [b](#x) [c](https://x.dev/y.md) [d](backends.md#sqlite)\n" +
    "[e](../README.md#durable-steps) [f](mailto:a@b.c) [g](references/cli.md#flags)";
  assert.deepEqual(relativeLinks("README.md", md), [
    "../README.md",
    "backends.md",
    "references/cli.md",
  ]);
  assert.deepEqual(relativeLinks("references/api.md", md), [
    "README.md",
    "references/backends.md",
    "references/references/cli.md",
  ]);
  assert.equal(isCovered("references/api.md", ["README.md", "references/"]), true);
  assert.equal(isCovered("types.ts", ["README.md", "references/"]), false);
});

test("every relative link of the shipped documents names a file both packages ship", () => {
  const deno = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as {
    publish: { include: string[]; exclude?: string[] };
  };
  const docs = [
    "README.md",
    "SKILL.md",
    ...readdirSync(join(ROOT, "references"))
      .filter((f) => f.endsWith(".md")).map((f) => `references/${f}`),
  ];
  let links = 0;
  for (const doc of docs) {
    assert.ok(isCovered(doc, SHIPPED_DOCS), `${doc} is not shipped on npm`);
    assert.ok(isCovered(doc, deno.publish.include), `${doc} is not published on JSR`);
    for (const target of relativeLinks(doc, readFileSync(join(ROOT, doc), "utf8"))) {
      links++;
      assert.ok(existsSync(join(ROOT, target)), `${doc} links ${target}, which does not exist`);
      assert.ok(isCovered(target, SHIPPED_DOCS), `${doc} links ${target}, not shipped on npm`);
      assert.ok(isCovered(target, deno.publish.include), `${doc} links ${target}, not on JSR`);
      assert.ok(!isCovered(target, deno.publish.exclude ?? []), `${doc} links ${target}, excluded`);
    }
  }
  assert.ok(links >= 10, `only ${links} links found`);
  assert.ok(docs.includes("references/api.md"));
});
