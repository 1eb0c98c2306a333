// Migration of 100,000 keys json -> sqlite and sqlite -> redis: wall time
// and peak memory. Uses the library's migrate() when it is present (built on
// another branch); until then, a stand-in copy through the public API
// (listKeys pages + loadMany + saveMany), labelled as such.
import { join } from "node:path";
import process from "node:process";
import { StateManager } from "../../mod.ts";
import { JsonBackend } from "../../backends/json.ts";
import { SqliteBackend } from "../../backends/sqlite.ts";
import type { Backend } from "../../types.ts";
import { caseArgs, emit, makeValue, optionalImport, skip, tempDir } from "./_harness.ts";

const args = caseArgs();
const n = args.n;
const dir = tempDir();
const migrateMod = await optionalImport<Record<string, unknown>>("../../migrate.ts");
const redisMod = await optionalImport<{ RedisBackend: new (o: object) => Backend }>(
  "../../backends/redis.ts",
);

type Copy = (from: Backend, to: Backend) => Promise<void>;

/** The library's migrate(), called the way its branch documents it (two shapes tried). */
function libraryCopy(): Copy | null {
  const migrate = migrateMod?.migrate as ((...a: unknown[]) => Promise<unknown>) | undefined;
  if (typeof migrate !== "function") return null;
  return async (from, to) => {
    try {
      await migrate({ from, to });
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      await migrate(from, to);
    }
  };
}

/** Stand-in: page through the source and write each page in one commit. */
const publicApiCopy: Copy = async (from, to) => {
  const src = await StateManager.open({ backend: from, namespace: "bench", cache: false });
  const dst = await StateManager.open({ backend: to, namespace: "bench" });
  let cursor: string | undefined;
  for (;;) {
    const page = await src.listKeys({ limit: 1000, ...(cursor ? { cursor } : {}) });
    if (page.keys.length) await dst.saveMany(await src.loadMany(page.keys));
    if (page.cursor === null) break;
    cursor = page.cursor;
  }
  await src.close();
  await dst.close();
};

const copy = libraryCopy() ?? publicApiCopy;
const impl = migrateMod ? "managing-state migrate()" : "stand-in: copy via public API";

async function timed(label: string, from: Backend, to: Backend): Promise<void> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t0 = performance.now();
  await copy(from, to);
  const ms = performance.now() - t0;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const check = await StateManager.open({ backend: to, namespace: "bench", cache: false });
  const count = (await check.listKeys()).keys.length;
  await check.close();
  if (count !== n) throw new Error(`${label}: copied ${count} of ${n} keys`);
  emit({
    group: "migrate",
    impl,
    op: label,
    n,
    ops: 1000 / ms,
    p50us: ms * 1000,
    note: `peak RSS ${Math.round(peak / 2 ** 20)} MiB (${Math.round(base / 2 ** 20)} MiB before)`,
  });
}

const json = new JsonBackend({ dir: join(dir, "json") });
const fill = await StateManager.open({ backend: json, namespace: "bench" });
for (let i = 0; i < n; i += 1000) {
  const batch: Record<string, unknown> = {};
  for (let j = i; j < Math.min(n, i + 1000); j++) {
    batch[`task:${String(j).padStart(6, "0")}`] = makeValue(j);
  }
  await fill.saveMany(batch);
}
await fill.close();
const sqlite = new SqliteBackend({ path: join(dir, "state.db") });
await timed("json -> sqlite", json, sqlite);
await json.close();
if (!args.redisUrl) skip("migrate", impl, "sqlite -> redis: no redis-server");
else if (!redisMod) {
  skip("migrate", impl, "sqlite -> redis: backends/redis.ts is not on this branch yet");
} else {
  const redis = new redisMod.RedisBackend({ url: args.redisUrl, prefix: "msmig" });
  await redis.clear("bench");
  await timed("sqlite -> redis", sqlite, redis);
  await redis.clear("bench");
  await redis.close();
}
await sqlite.close();
