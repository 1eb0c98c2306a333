import { join } from "node:path";
import { StateManager } from "../mod.ts";
import { testBackend } from "./conformance.ts";
import { removeDir, tempDir } from "./_runtime.ts";

testBackend("kv", () => {
  const dir = tempDir();
  const path = join(dir, "state.kv");
  return Promise.resolve({
    open: (options = {}) => StateManager.open({ ...options, backend: "kv", path }),
    childOptions: { backend: "kv", path },
    cleanup: () => Promise.resolve(removeDir(dir)),
  });
}, { persistent: true, multiProcess: true });
