// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// Peer: unstorage 1.17 with its redis driver (ioredis 5).
import { createStorage } from "npm:unstorage@1.17.6";
import redisDriver from "npm:unstorage@1.17.6/drivers/redis";
import { caseArgs, keyOf, makeValue, run, skip } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const impl = "unstorage redis";
if (!args.redisUrl) {
  skip("redis", impl, "no redis-server");
} else {
  const storage = createStorage({ driver: redisDriver({ url: args.redisUrl, base: `un${n}` }) });
  for (let i = 0; i < n; i += 200) {
    await Promise.all(
      Array.from(
        { length: Math.min(200, n - i) },
        (_, j) => storage.setItem(keyOf(i + j, n), makeValue(-1 - i - j)),
      ),
    );
  }
  await run(
    { group: "redis", impl, op: "save", n },
    (i) => storage.setItem(keyOf(i, n), makeValue(i)),
    args,
  );
  await run({ group: "redis", impl, op: "load", n }, async (i) => {
    if ((await storage.getItem(keyOf(i, n))) === null) throw new Error("missing");
  }, args);
  await storage.dispose();
}
