// The Redis backend against a real server: the shared conformance suite,
// then Redis-only behaviour (key layout, TTL, scripts, connections).
import { after } from "node:test";
import { StateManager } from "../mod.ts";
import { testBackend } from "./conformance.ts";
import { deletePrefix, redisTarget, reportUnavailable } from "./_redis_server.ts";

const target = await redisTarget();

if (typeof target === "string") {
  reportUnavailable("redis", target);
} else {
  after(() => target.server?.stop());
  const { url } = target;
  testBackend("redis", () => {
    const prefix = `mst-${crypto.randomUUID().slice(0, 8)}`;
    const base = { backend: "redis", url, prefix } as const;
    return Promise.resolve({
      open: (options = {}) => StateManager.open({ ...options, ...base }),
      childOptions: base,
      cleanup: () => deletePrefix(url, prefix),
    });
  }, { persistent: true, multiProcess: true });
}
