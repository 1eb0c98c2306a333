import { join } from "node:path";
import type { OpenOptions } from "../mod.ts";
import { testConcurrency } from "./_concurrency.ts";
import { removeDir, tempDir } from "./_runtime.ts";

const stores: Record<string, (dir: string) => OpenOptions> = {
  json: (dir: string) => ({ backend: "json", dir, namespace: "race" }),
  sqlite: (dir: string) => ({ backend: "sqlite", path: join(dir, "state.db"), namespace: "race" }),
  kv: (dir: string) => ({ backend: "kv", path: join(dir, "state.kv"), namespace: "race" }),
};

for (const [name, optionsFor] of Object.entries(stores)) {
  testConcurrency(name, () => {
    const dir = tempDir();
    return { options: optionsFor(dir), cleanup: () => removeDir(dir) };
  });
}
