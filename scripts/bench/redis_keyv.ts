// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// Peer: keyv 6 with @keyv/redis (node-redis client).
import Keyv from "npm:keyv@6.1.0";
import KeyvRedis from "npm:@keyv/redis@6.0.0-rc.1";
import { caseArgs, keyOf, makeValue, run, skip } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const impl = "keyv + @keyv/redis";
if (!args.redisUrl) {
  skip("redis", impl, "no redis-server");
} else {
  const keyv = new Keyv({ store: new KeyvRedis(args.redisUrl), namespace: `keyv${n}` });
  for (let i = 0; i < n; i += 500) {
    await keyv.setMany(
      Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
        key: keyOf(i + j, n),
        value: makeValue(-1 - i - j),
      })),
    );
  }
  await run(
    { group: "redis", impl, op: "save", n },
    (i) => keyv.set(keyOf(i, n), makeValue(i)),
    args,
  );
  await run({ group: "redis", impl, op: "load", n }, async (i) => {
    if ((await keyv.get(keyOf(i, n))) === undefined) throw new Error("missing");
  }, args);
  await keyv.disconnect();
}
