// Vitest runs the upstream suites here; the LangGraph one expects globals
// (describe, it, beforeAll) as its own repository provides them.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["*.suite.mjs"],
    globals: true,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
