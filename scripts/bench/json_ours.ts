// managing-state on JSON files: save (an fsynced journal append under a
// cross-process lock), load, update, listKeys, checkpoint and restore.
import { JsonBackend } from "../../backends/json.ts";
import { caseArgs, syncDisk, tempDir } from "./_harness.ts";
import { measureOurs } from "./_ours.ts";

const args = caseArgs();
const dir = tempDir();
const backend = new JsonBackend({ dir });
await measureOurs("json", backend, args, () => syncDisk(dir), { slowSaves: true });
await backend.close();
