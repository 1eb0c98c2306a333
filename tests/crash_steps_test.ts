// The steps kill loop on every persistent backend, as a library workflow and
// as CLI `step` processes (see tests/_steps_crash.ts). STEP_KILLS sets the
// kills per backend and form (default 100; 20 when CI is set).
import { join } from "node:path";
import { after, test } from "node:test";
import type { OpenOptions } from "../mod.ts";
import { redisTarget, reportUnavailable } from "./_redis_server.ts";
import { removeDir, tempDir } from "./_runtime.ts";
import { reportSteps, STEP_KILLS, stepsCrashLoop } from "./_steps_crash.ts";

const stores: Record<string, (dir: string) => OpenOptions> = {
  json: (dir) => ({ backend: "json", dir: join(dir, "state"), namespace: "steps" }),
  sqlite: (dir) => ({ backend: "sqlite", path: join(dir, "state.db"), namespace: "steps" }),
  kv: (dir) => ({ backend: "kv", path: join(dir, "state.kv"), namespace: "steps" }),
};

const target = await redisTarget();
if (typeof target === "string") reportUnavailable("redis steps kill loop", target);
else {
  after(() => target.server?.stop());
  // The CLI takes no key prefix: a namespace of its own keeps runs apart (cleared at the end).
  stores.redis = () => ({
    backend: "redis",
    url: target.url,
    namespace: `steps-${crypto.randomUUID().slice(0, 8)}`,
  });
}

for (const [name, options] of Object.entries(stores)) {
  for (const mode of ["lib", "cli"] as const) {
    test(`${name}: steps survive ${STEP_KILLS} SIGKILLs of a ${mode} runner: done steps never rerun, no half step visible`, async () => {
      const dir = tempDir();
      try {
        const stats = await stepsCrashLoop(mode, options(dir), dir, STEP_KILLS);
        reportSteps(`${name} ${mode}`, stats, STEP_KILLS);
      } finally {
        removeDir(dir);
      }
    });
  }
}
