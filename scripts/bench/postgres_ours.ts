// managing-state on PostgreSQL: save, load (uncached and cached: the cache is
// kept never-stale by NOTIFY plus one round trip on the LISTEN connection),
// update, listKeys, checkpoint and restore.
import type { Backend } from "../../types.ts";
import { caseArgs, optionalImport, skip } from "./_harness.ts";
import { measureOurs } from "./_ours.ts";

const args = caseArgs();
const mod = await optionalImport<{ PostgresBackend: new (o: object) => Backend }>(
  "../../backends/postgres.ts",
);
if (!args.pgUrl) skip("postgres", "managing-state", "no PostgreSQL server");
else if (!mod) skip("postgres", "managing-state", "backends/postgres.ts is not on this branch yet");
else {
  const backend = new mod.PostgresBackend({ url: args.pgUrl, schema: `bench_${args.n}` });
  await measureOurs("postgres", backend, args, () => {});
  await backend.clear("bench", { id: crypto.randomUUID() });
  await backend.close();
}
