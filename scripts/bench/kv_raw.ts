// The floor for Deno KV: set and get on a local file (Deno only), and the
// copy floor for checkpoints: list every key and write it elsewhere in
// atomic batches.
import { join } from "node:path";
import { caseArgs, isDeno, keyOf, makeValue, run, runFew, skip, tempDir } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const impl = "raw Deno KV";
if (!isDeno) {
  skip("kv", impl, "Deno KV runs on Deno (on Node, @deno/kv is a separate package)");
} else {
  const deno = (globalThis as unknown as { Deno: { openKv(path: string): Promise<Kv> } }).Deno;
  const kv = await deno.openKv(join(tempDir(), "raw.kv"));
  for (let i = 0; i < n; i += 500) {
    const op = kv.atomic();
    for (let j = i; j < Math.min(n, i + 500); j++) op.set(["d", keyOf(j, n)], makeValue(-1 - j));
    await op.commit();
  }
  await run(
    { group: "kv", impl, op: "save", n },
    async (i) => {
      await kv.set(["d", keyOf(i, n)], makeValue(i));
    },
    { ...args, maxOps: Math.min(args.maxOps, 5000) },
    50,
  );
  await run({ group: "kv", impl, op: "load", n }, async (i) => {
    if ((await kv.get(["d", keyOf(i, n)])).value === null) throw new Error("missing");
  }, args);
  await runFew({ group: "kv", impl, op: "copy all keys", n }, async (round) => {
    let op = kv.atomic();
    let count = 0;
    for await (const e of kv.list({ prefix: ["d"] })) {
      op.set(["copy", round, e.key[1]!], e.value);
      if (++count % 500 === 0) {
        await op.commit();
        op = kv.atomic();
      }
    }
    await op.commit();
  }, 3);
  kv.close();
}

interface Kv {
  set(key: unknown[], value: unknown): Promise<unknown>;
  get(key: unknown[]): Promise<{ value: unknown }>;
  list(selector: { prefix: unknown[] }): AsyncIterable<{ key: unknown[]; value: unknown }>;
  atomic(): { set(key: unknown[], value: unknown): unknown; commit(): Promise<unknown> };
  close(): void;
}
