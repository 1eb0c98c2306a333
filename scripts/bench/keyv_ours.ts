// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// The Keyv store over managing-state, with the same Keyv (6, through its
// bridge for Keyv 5 stores) and the same loop as the @keyv/sqlite and
// @keyv/redis cases: SQLite (the library's defaults) and Redis.
import Keyv from "npm:keyv@6.1.0";
import { join } from "node:path";
import { KeyvManagingState } from "../../adapters/keyv.ts";
import { caseArgs, keyOf, makeValue, run, skip, syncDisk, tempDir } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const impl = "keyv + managing-state";

async function measure(group: string, store: KeyvManagingState, flush: () => void) {
  const keyv = new Keyv({ store, namespace: `keyv${n}` });
  const entries = Array.from(
    { length: n },
    (_, i) => ({ key: keyOf(i, n), value: makeValue(-1 - i) }),
  );
  for (let i = 0; i < n; i += 500) await keyv.setMany(entries.slice(i, i + 500));
  flush();
  await run({ group, impl, op: "save", n }, (i) => keyv.set(keyOf(i, n), makeValue(i)), args);
  await run({ group, impl, op: "load", n }, async (i) => {
    if ((await keyv.get(keyOf(i, n))) === undefined) throw new Error("missing");
  }, args);
  await keyv.clear();
  await keyv.disconnect();
}

const dir = tempDir();
await measure(
  "sqlite",
  new KeyvManagingState({ backend: "sqlite", path: join(dir, "state.db") }),
  () => syncDisk(dir),
);
if (!args.redisUrl) skip("redis", impl, "no redis-server");
else {
  const store = new KeyvManagingState({ backend: "redis", url: args.redisUrl, prefix: `kms${n}` });
  await measure("redis", store, () => {});
}
