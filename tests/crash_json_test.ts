import { test } from "node:test";
import { crashLoop, KILLS, report } from "./_crash.ts";
import { removeDir, tempDir } from "./_runtime.ts";

test(`json: survives ${KILLS} SIGKILLs with every acknowledged write and checkpoint intact`, async () => {
  const dir = tempDir();
  try {
    report("json", await crashLoop({ backend: "json", dir, namespace: "crash" }, KILLS));
  } finally {
    removeDir(dir);
  }
});
