// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// Peer: keyv 6 with @keyv/postgres (node-postgres underneath).
import Keyv from "npm:keyv@6.1.0";
import KeyvPostgres from "npm:@keyv/postgres@6.0.0-beta.4";
import { caseArgs, keyOf, makeValue, run, skip } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const impl = "keyv + @keyv/postgres";
if (!args.pgUrl) {
  skip("postgres", impl, "no PostgreSQL server");
} else {
  const store = new KeyvPostgres({ uri: args.pgUrl, table: `keyv_${n}` });
  const keyv = new Keyv({ store, namespace: `keyv${n}` });
  for (let i = 0; i < n; i += 500) {
    await keyv.setMany(
      Array.from({ length: Math.min(500, n - i) }, (_, j) => ({
        key: keyOf(i + j, n),
        value: makeValue(-1 - i - j),
      })),
    );
  }
  await run(
    { group: "postgres", impl, op: "save", n },
    (i) => keyv.set(keyOf(i, n), makeValue(i)),
    args,
  );
  await run({ group: "postgres", impl, op: "load", n }, async (i) => {
    if ((await keyv.get(keyOf(i, n))) === undefined) throw new Error("missing");
  }, args);
  await keyv.disconnect();
}
