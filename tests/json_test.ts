import { StateManager } from "../mod.ts";
import { testBackend } from "./conformance.ts";
import { removeDir, tempDir } from "./_runtime.ts";

await testBackend("json", () => {
  const dir = tempDir();
  return Promise.resolve({
    open: (options = {}) => StateManager.open({ ...options, backend: "json", dir }),
    childOptions: { backend: "json", dir },
    cleanup: () => Promise.resolve(removeDir(dir)),
  });
});
