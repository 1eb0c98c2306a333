// managing-state on Deno KV, when the KV backend is present (it is built on
// another branch).
import { join } from "node:path";
import type { Backend } from "../../types.ts";
import { caseArgs, isDeno, optionalImport, skip, tempDir } from "./_harness.ts";
import { measureOurs } from "./_ours.ts";

const args = caseArgs();
const mod = await optionalImport<{ KvBackend: new (o: object) => Backend }>(
  "../../backends/kv.ts",
);
if (!mod) skip("kv", "managing-state", "backends/kv.ts is not on this branch yet");
else if (!isDeno) skip("kv", "managing-state", "measured on Deno only (Deno KV)");
else {
  const backend = new mod.KvBackend({ path: join(tempDir(), "state.kv") });
  await measureOurs("kv", backend, args, () => {}, { slowSaves: true });
  await backend.close();
}
