// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// The floor for Redis: ioredis SET and GET awaited one by one (JSON encoded
// and decoded), and the copy floor for checkpoints: COPY of a hash of N fields.
import { Redis } from "npm:ioredis@5.8.2";
import { caseArgs, keyOf, makeValue, run, runFew, skip } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const impl = "raw ioredis";
if (!args.redisUrl) {
  skip("redis", impl, "no redis-server");
} else {
  const redis = new Redis(args.redisUrl);
  const prefix = `raw:${n}:`;
  const pipe = redis.pipeline();
  for (let i = 0; i < n; i++) pipe.set(prefix + keyOf(i, n), JSON.stringify(makeValue(-1 - i)));
  for (let i = 0; i < n; i++) pipe.hset(`${prefix}hash`, keyOf(i, n), JSON.stringify(makeValue(i)));
  await pipe.exec();
  await run({ group: "redis", impl, op: "save", n }, async (i) => {
    await redis.set(prefix + keyOf(i, n), JSON.stringify(makeValue(i)));
  }, args);
  await run({ group: "redis", impl, op: "load", n }, async (i) => {
    return JSON.parse((await redis.get(prefix + keyOf(i, n)))!);
  }, args);
  await runFew({ group: "redis", impl, op: "copy all keys", n }, async () => {
    await redis.copy(`${prefix}hash`, `${prefix}hash-copy`, "REPLACE");
  });
  await redis.quit();
}
