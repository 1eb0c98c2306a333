import { join } from "node:path";
import { test } from "node:test";
import { crashLoop, KILLS, report } from "./_crash.ts";
import { removeDir, tempDir } from "./_runtime.ts";

test(`kv: survives ${KILLS} SIGKILLs with every acknowledged write and checkpoint intact`, async () => {
  const dir = tempDir();
  try {
    const path = join(dir, "state.kv");
    report("kv", await crashLoop({ backend: "kv", path, namespace: "crash" }, KILLS));
  } finally {
    removeDir(dir);
  }
});
