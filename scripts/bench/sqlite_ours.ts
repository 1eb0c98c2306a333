// managing-state on SQLite: save, load (uncached and cached), update,
// listKeys, checkpoint and restore.
import { join } from "node:path";
import { StateManager } from "../../mod.ts";
import { SqliteBackend } from "../../backends/sqlite.ts";
import { caseArgs, keyOf, makeValue, syncDisk, tempDir } from "./_harness.ts";
import { measureOurs } from "./_ours.ts";

const args = caseArgs();
const dir = tempDir();
const backend = new SqliteBackend({ path: join(dir, "state.db") });
await measureOurs("sqlite", backend, args, () => syncDisk(dir));
await backend.close();
// Keep the imports honest for type checking.
void [StateManager, keyOf, makeValue];
