// managing-state on Redis, when the Redis backend is present (it is built on
// another branch): save, load (uncached and cached), update, listKeys,
// checkpoint and restore.
import type { Backend } from "../../types.ts";
import { caseArgs, optionalImport, skip } from "./_harness.ts";
import { measureOurs } from "./_ours.ts";

const args = caseArgs();
const mod = await optionalImport<{ RedisBackend: new (o: object) => Backend }>(
  "../../backends/redis.ts",
);
if (!args.redisUrl) skip("redis", "managing-state", "no redis-server");
else if (!mod) skip("redis", "managing-state", "backends/redis.ts is not on this branch yet");
else {
  const backend = new mod.RedisBackend({ url: args.redisUrl, prefix: `ms${args.n}` });
  await measureOurs("redis", backend, args, () => {});
  await backend.clear("bench", { id: crypto.randomUUID() });
  await backend.close();
}
