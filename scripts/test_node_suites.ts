// Runs the upstream suites the adapters must pass, unmodified, under Node 24
// against the built npm package, as a Node user installs it:
//
//   deno task test:node:suites     (after deno task build:npm)
//
// - @keyv/test-suite against the Keyv store (./keyv),
// - @langchain/langgraph-checkpoint-validation against the LangGraph saver
//   (./langgraph),
// each on memory, json, sqlite, kv, redis and postgres, plus a real StateGraph
// that is interrupted in one process and resumed in another (sqlite, redis,
// postgres).
//
// The suites and their peers are pinned in tests/node_suites/package.json
// and its lock file, and only there: `npm ci` installs them (again only when
// the lock file changed). The packed package is unpacked into that folder's
// node_modules. Redis: REDIS_URL when set, else a redis-server started here;
// PostgreSQL: DATABASE_URL when set, else a server started here.
// Arguments are passed to `vitest run` (e.g. a file filter: langgraph_sqlite).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startRedisServer } from "../tests/_redis_server.ts";
import { startPgServer } from "../tests/_pg_server.ts";
import { envWithNode, findNode, NPM_DIR, output, ROOT, run } from "./_node.ts";

const SUITES = join(ROOT, "tests", "node_suites");
const MODULES = join(SUITES, "node_modules");
const MARKER = join(MODULES, ".managing-state-lock");

const node = await findNode();
const env = envWithNode(node);

// 1. The pinned suites, installed from the lock file (install scripts off:
// nothing the suites run needs a native build).
const lock = createHash("sha256")
  .update(readFileSync(join(SUITES, "package.json")))
  .update(readFileSync(join(SUITES, "package-lock.json")))
  .digest("hex");
if (!existsSync(MARKER) || readFileSync(MARKER, "utf8") !== lock) {
  await run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: SUITES,
    env,
  });
  writeFileSync(MARKER, lock);
}

// 2. The package as npm would install it: packed, then unpacked in place.
const packDir = await Deno.makeTempDir({ prefix: "ms-suites-pack-" });
try {
  const packed = JSON.parse(
    await output("npm", ["pack", "--json", "--pack-destination", packDir], { cwd: NPM_DIR, env }),
  ) as { filename: string }[];
  const target = join(MODULES, "@adw", "managing-state");
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  await run("tar", [
    "-xzf",
    join(packDir, packed[0]!.filename),
    "-C",
    target,
    "--strip-components=1",
  ]);
} finally {
  await Deno.remove(packDir, { recursive: true });
}

// 3. Redis and PostgreSQL, then the suites.
let url = Deno.env.get("REDIS_URL");
const server = url ? undefined : await startRedisServer();
url ??= server!.url;
let databaseUrl = Deno.env.get("DATABASE_URL");
const pgServer = databaseUrl ? undefined : await startPgServer().catch(async (error) => {
  await server?.stop();
  throw error;
});
databaseUrl ??= pgServer!.url;
try {
  const version = (await output(node, ["--version"])).trim();
  console.log(
    `Upstream suites (Vitest) on Node ${version}, Redis at ${url}, PostgreSQL at ${databaseUrl}`,
  );
  await run(node, [join(MODULES, "vitest", "vitest.mjs"), "run", ...Deno.args], {
    cwd: SUITES,
    env: { ...env, REDIS_URL: url, DATABASE_URL: databaseUrl },
  });
} finally {
  await server?.stop();
  await pgServer?.stop();
}
