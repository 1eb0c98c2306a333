// The library's operations, measured the same way on every backend.
import { StateManager } from "../../mod.ts";
import type { Backend } from "../../types.ts";
import { type CaseArgs, keyOf, makeValue, run, runFew } from "./_harness.ts";

/** Measures save, load (uncached and cached), update, listKeys, checkpoint and restore. */
export async function measureOurs(
  group: string,
  backend: Backend,
  args: CaseArgs,
  flush: () => void,
  options: { slowSaves?: boolean } = {},
): Promise<void> {
  const { n } = args;
  const impl = "managing-state";
  const state = await StateManager.open({ backend, namespace: "bench" });
  const cold = await StateManager.open({ backend, namespace: "bench", cache: false });
  for (let i = 0; i < n; i += 1000) {
    const batch: Record<string, unknown> = {};
    for (let j = i; j < Math.min(n, i + 1000); j++) batch[keyOf(j, n)] = makeValue(-1 - j);
    await state.saveMany(batch);
  }
  flush();
  const saveArgs = options.slowSaves ? { ...args, maxOps: Math.min(args.maxOps, 2000) } : args;
  await run(
    { group, impl, op: "save", n },
    (i) => state.save(keyOf(i, n), makeValue(i)),
    saveArgs,
    options.slowSaves ? 20 : 200,
  );
  await run({ group, impl, op: "load", n }, (i) => cold.load(keyOf(i, n)), args);
  // Cached: the same keys again and again (all fit in the default cache).
  for (let i = 0; i < n; i++) await state.load(keyOf(i, n));
  await run({ group, impl, op: "load (cached)", n }, (i) => state.load(keyOf(i, n)), args);
  await run(
    { group, impl, op: "update", n },
    (i) => state.update(keyOf(i, n), (v) => ({ ...(v as object), attempts: i })),
    saveArgs,
    options.slowSaves ? 20 : 200,
  );
  await runFew({ group, impl, op: "listKeys (all)", n }, async () => {
    const page = await state.listKeys();
    if (page.keys.length !== n) throw new Error(`listed ${page.keys.length} of ${n}`);
  }, 9);
  await runFew(
    { group, impl, op: "checkpoint", n },
    (i) => state.checkpoint(`cp-${i}`, { overwrite: true }),
    5,
    flush,
  );
  await runFew({ group, impl, op: "restore", n }, () => state.restoreCheckpoint("cp-0"), 5, flush);
  await cold.close();
  await state.close();
}
