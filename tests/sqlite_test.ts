import { join } from "node:path";
import { StateManager } from "../mod.ts";
import { testBackend } from "./conformance.ts";
import { removeDir, tempDir } from "./_runtime.ts";

testBackend("sqlite", () => {
  const dir = tempDir();
  const path = join(dir, "state.db");
  return Promise.resolve({
    open: (options = {}) => StateManager.open({ ...options, backend: "sqlite", path }),
    childOptions: { backend: "sqlite", path },
    cleanup: () => Promise.resolve(removeDir(dir)),
  });
}, { persistent: true, multiProcess: true });
