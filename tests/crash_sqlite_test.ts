import { join } from "node:path";
import { test } from "node:test";
import { crashLoop, KILLS, report } from "./_crash.ts";
import { removeDir, tempDir } from "./_runtime.ts";

test(`sqlite: survives ${KILLS} SIGKILLs with every acknowledged write and checkpoint intact`, async () => {
  const dir = tempDir();
  try {
    const path = join(dir, "state.db");
    report("sqlite", await crashLoop({ backend: "sqlite", path, namespace: "crash" }, KILLS));
  } finally {
    removeDir(dir);
  }
});
