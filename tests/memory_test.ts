import { MemoryBackend, StateManager } from "../mod.ts";
import { testBackend } from "./conformance.ts";

await testBackend("memory", () => {
  const backend = new MemoryBackend();
  return Promise.resolve({
    open: (options = {}) => StateManager.open({ ...options, backend }),
    cleanup: () => backend.close(),
  });
});
