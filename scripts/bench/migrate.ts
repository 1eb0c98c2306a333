// Migration of 100,000 keys json -> sqlite and sqlite -> redis with the
// library's migrate() (verified copy): wall time and peak memory.
import { join } from "node:path";
import process from "node:process";
import { migrate, StateManager } from "../../mod.ts";
import { JsonBackend } from "../../backends/json.ts";
import { RedisBackend } from "../../backends/redis.ts";
import { SqliteBackend } from "../../backends/sqlite.ts";
import type { Backend } from "../../types.ts";
import { caseArgs, emit, makeValue, skip, tempDir } from "./_harness.ts";

const args = caseArgs();
const n = args.n;
const dir = tempDir();
const impl = "managing-state migrate()";
const copy = async (from: Backend, to: Backend) => void await migrate({ from, to });

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
else {
  const redis = new RedisBackend({ url: args.redisUrl, prefix: "msmig" });
  await redis.clear("bench", { id: crypto.randomUUID() });
  await timed("sqlite -> redis", sqlite, redis);
  await redis.clear("bench", { id: crypto.randomUUID() });
  await redis.close();
}
await sqlite.close();
